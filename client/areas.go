package client

import (
	"context"

	"rewire/api/wire"
)

// Git is the tenant's git repositories.
type Git struct{ c *Client }

// Git returns the git methods.
func (c *Client) Git() *Git { return &Git{c} }

// List returns the repository names.
func (g *Git) List(ctx context.Context) ([]string, error) {
	r, err := call[wire.RepoList](ctx, g.c, "git.list", nil)
	return r.Repos, err
}

// Create makes an empty repository.
func (g *Git) Create(ctx context.Context, repo string) error {
	_, err := call[wire.OK](ctx, g.c, "git.create", wire.RepoParams{Repo: repo})
	return err
}

// Delete removes a repository.
func (g *Git) Delete(ctx context.Context, repo string) error {
	_, err := call[wire.OK](ctx, g.c, "git.delete", wire.RepoParams{Repo: repo})
	return err
}

// Refs lists a repository's references and HEAD.
func (g *Git) Refs(ctx context.Context, repo string) (wire.RefsResult, error) {
	return call[wire.RefsResult](ctx, g.c, "git.refs", wire.RepoParams{Repo: repo})
}

// Log lists up to max commits reachable from rev ("" for HEAD).
func (g *Git) Log(ctx context.Context, repo, rev string, max int) ([]wire.Commit, error) {
	r, err := call[wire.LogResult](ctx, g.c, "git.log", wire.LogParams{Repo: repo, Rev: rev, Max: max})
	return r.Commits, err
}

// ReadFile returns a file of the tree at rev.
func (g *Git) ReadFile(ctx context.Context, repo, rev, path string) (wire.ReadResult, error) {
	return call[wire.ReadResult](ctx, g.c, "git.read", wire.GitReadParams{Repo: repo, Rev: rev, Path: path})
}

// Diff compares two revisions.
func (g *Git) Diff(ctx context.Context, repo, from, to string) (wire.DiffResult, error) {
	return call[wire.DiffResult](ctx, g.c, "git.diff", wire.DiffParams{Repo: repo, From: from, To: to})
}

// Streams is the tenant's Kafka topics and JetStream streams.
type Streams struct{ c *Client }

// Streams returns the stream methods.
func (c *Client) Streams() *Streams { return &Streams{c} }

// List returns topics and streams with their offsets.
func (s *Streams) List(ctx context.Context) (wire.StreamsList, error) {
	return call[wire.StreamsList](ctx, s.c, "streams.list", nil)
}

// CreateTopic makes a topic with n partitions.
func (s *Streams) CreateTopic(ctx context.Context, topic string, n int32) error {
	_, err := call[wire.OK](ctx, s.c, "streams.create", wire.CreateTopicParams{Topic: topic, Partitions: n})
	return err
}

// DeleteTopic removes a topic.
func (s *Streams) DeleteTopic(ctx context.Context, topic string) error {
	_, err := call[wire.OK](ctx, s.c, "streams.delete", wire.TopicParams{Topic: topic})
	return err
}

// Produce appends records to a partition and returns the first offset.
// It is not retried: a repeat could append the records twice.
func (s *Streams) Produce(ctx context.Context, p wire.ProduceParams) (int64, error) {
	r, err := call[wire.ProduceResult](ctx, s.c, "streams.produce", p)
	return r.BaseOffset, err
}

// Read returns records of a partition from an offset.
func (s *Streams) Read(ctx context.Context, p wire.ConsumeParams) (wire.ConsumeResult, error) {
	return call[wire.ConsumeResult](ctx, s.c, "streams.read", p)
}

// GroupOffsets returns a consumer group's committed offsets.
func (s *Streams) GroupOffsets(ctx context.Context, group string) ([]wire.GroupOffset, error) {
	r, err := call[wire.GroupOffsets](ctx, s.c, "streams.offsets", wire.GroupParams{Group: group})
	return r.Offsets, err
}

// SQL is the tenant's SQL databases.
type SQL struct{ c *Client }

// SQL returns the SQL methods.
func (c *Client) SQL() *SQL { return &SQL{c} }

// Query runs one statement with parameters on a database ("" for the
// tenant's default database).
func (q *SQL) Query(ctx context.Context, db, sql string, params ...any) (wire.SQLResult, error) {
	return call[wire.SQLResult](ctx, q.c, "sql.query", wire.SQLParams{Database: db, SQL: sql, Params: params})
}

// Tokens manages the tenant's API tokens.
type Tokens struct{ c *Client }

// Tokens returns the token methods.
func (c *Client) Tokens() *Tokens { return &Tokens{c} }

// Create makes a token; its Secret is only returned here.
func (t *Tokens) Create(ctx context.Context, name string) (wire.Token, error) {
	return call[wire.Token](ctx, t.c, "tokens.create", wire.TokenParams{Name: name})
}

// List lists the tokens without their secrets.
func (t *Tokens) List(ctx context.Context) ([]wire.Token, error) {
	r, err := call[wire.TokenList](ctx, t.c, "tokens.list", nil)
	return r.Tokens, err
}

// Revoke deletes a token.
func (t *Tokens) Revoke(ctx context.Context, id string) error {
	_, err := call[wire.OK](ctx, t.c, "tokens.revoke", wire.TokenID{ID: id})
	return err
}
