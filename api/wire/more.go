package wire

import "time"

// RepoParams names a git repository of the tenant.
type RepoParams struct {
	Repo string `json:"repo" jsonschema:"repository name"`
}

// RepoList is the result of git.list.
type RepoList struct {
	Repos []string `json:"repos"`
}

// Ref is a git reference.
type Ref struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// RefsResult is the result of git.refs.
type RefsResult struct {
	Head string `json:"head" jsonschema:"the branch HEAD names"`
	Refs []Ref  `json:"refs"`
}

// LogParams are the parameters of git.log.
type LogParams struct {
	Repo string `json:"repo"`
	Rev  string `json:"rev,omitempty" jsonschema:"commit hash, branch, tag or HEAD (default HEAD)"`
	Max  int    `json:"max,omitempty" jsonschema:"at most this many commits (default 50, at most 1000)"`
}

// Commit is one commit of git.log.
type Commit struct {
	Hash    string    `json:"hash"`
	Author  string    `json:"author"`
	Email   string    `json:"email"`
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	Parents []string  `json:"parents"`
}

// LogResult is the result of git.log.
type LogResult struct {
	Commits []Commit `json:"commits"`
}

// GitReadParams are the parameters of git.read.
type GitReadParams struct {
	Repo     string `json:"repo"`
	Rev      string `json:"rev,omitempty" jsonschema:"commit hash, branch, tag or HEAD (default HEAD)"`
	Path     string `json:"path" jsonschema:"file path inside the commit's tree"`
	Encoding string `json:"encoding,omitempty" jsonschema:"utf8 (default) or base64"`
}

// DiffParams are the parameters of git.diff.
type DiffParams struct {
	Repo string `json:"repo"`
	From string `json:"from" jsonschema:"older revision"`
	To   string `json:"to,omitempty" jsonschema:"newer revision (default HEAD)"`
}

// FileChange is one changed file of git.diff.
type FileChange struct {
	Action string `json:"action" jsonschema:"insert, delete or modify"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// DiffResult is the result of git.diff.
type DiffResult struct {
	Files []FileChange `json:"files"`
	Patch string       `json:"patch" jsonschema:"unified diff"`
}

// TopicInfo describes a Kafka topic.
type TopicInfo struct {
	Name       string          `json:"name"`
	Partitions []PartitionInfo `json:"partitions"`
}

// PartitionInfo gives a partition's offsets.
type PartitionInfo struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	Next      int64 `json:"next"`
}

// StreamInfo describes a JetStream stream.
type StreamInfo struct {
	Name  string `json:"name"`
	First int64  `json:"first"`
	Next  int64  `json:"next"`
}

// StreamsList is the result of streams.list.
type StreamsList struct {
	Topics  []TopicInfo  `json:"topics"`
	Streams []StreamInfo `json:"streams"`
}

// CreateTopicParams are the parameters of streams.create.
type CreateTopicParams struct {
	Topic      string `json:"topic"`
	Partitions int32  `json:"partitions,omitempty" jsonschema:"number of partitions (default 1, at most 1000)"`
}

// TopicParams names a topic.
type TopicParams struct {
	Topic string `json:"topic"`
}

// Header is a Kafka record header.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Record is one Kafka record. Key and Value are UTF-8 text unless the
// enclosing call names base64.
type Record struct {
	Offset    int64     `json:"offset,omitempty"`
	Partition int32     `json:"partition,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
	Key       *string   `json:"key,omitempty"`
	Value     *string   `json:"value,omitempty"`
	Headers   []Header  `json:"headers,omitempty"`
}

// ProduceParams are the parameters of streams.produce.
type ProduceParams struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition,omitempty"`
	Records   []Record `json:"records" jsonschema:"records to append (1 to 10000)"`
	Encoding  string   `json:"encoding,omitempty" jsonschema:"encoding of keys and values: utf8 (default) or base64"`
	Create    bool     `json:"create,omitempty" jsonschema:"create the topic with one partition if missing"`
}

// ProduceResult is the result of streams.produce.
type ProduceResult struct {
	Partition  int32 `json:"partition"`
	BaseOffset int64 `json:"base_offset"`
}

// ConsumeParams are the parameters of streams.read.
type ConsumeParams struct {
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition,omitempty"`
	Offset     int64  `json:"offset,omitempty" jsonschema:"first offset to return"`
	MaxRecords int    `json:"max_records,omitempty" jsonschema:"at most this many records (default 100, at most 10000)"`
	Encoding   string `json:"encoding,omitempty" jsonschema:"encoding of keys and values: utf8 (default) or base64"`
}

// ConsumeResult is the result of streams.read.
type ConsumeResult struct {
	Records       []Record `json:"records"`
	Next          int64    `json:"next" jsonschema:"offset to read from next"`
	HighWatermark int64    `json:"high_watermark"`
}

// GroupParams names a consumer group.
type GroupParams struct {
	Group string `json:"group"`
}

// GroupOffset is one committed offset of a consumer group.
type GroupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Metadata  string `json:"metadata,omitempty"`
}

// GroupOffsets is the result of streams.offsets.
type GroupOffsets struct {
	Group   string        `json:"group"`
	Offsets []GroupOffset `json:"offsets"`
}

// SQLParams are the parameters of sql.query.
type SQLParams struct {
	Database string `json:"database,omitempty" jsonschema:"database name (default: the tenant's name)"`
	SQL      string `json:"sql" jsonschema:"one SQLite statement; ? or $1 placeholders"`
	Params   []any  `json:"params,omitempty" jsonschema:"values for the placeholders"`
	MaxRows  int    `json:"max_rows,omitempty" jsonschema:"at most this many rows (default 1000, at most 10000)"`
	Dialect  string `json:"dialect,omitempty" jsonschema:"sqlite (default) or postgres (translated as pgwire does; values come back as PostgreSQL text)"`
}

// SQLResult is the result of sql.query.
type SQLResult struct {
	Columns      []string `json:"columns"`
	Rows         [][]any  `json:"rows"`
	RowsAffected int64    `json:"rows_affected"`
	Truncated    bool     `json:"truncated"`
}

// Usage is the result of usage: bytes the tenant keeps in each tier.
type Usage struct {
	HotBytes    int64 `json:"hot_bytes" jsonschema:"blobs inside the tenant database"`
	WarmBytes   int64 `json:"warm_bytes"`
	ColdBytes   int64 `json:"cold_bytes"`
	LogHotBytes int64 `json:"log_hot_bytes" jsonschema:"recent log batches inside the tenant database"`
	FileBytes   int64 `json:"file_bytes" jsonschema:"logical size of all files"`
	Files       int64 `json:"files"`
	SQLBytes    int64 `json:"sql_bytes" jsonschema:"size of the tenant's SQL database files"`
}

// TokenParams are the parameters of tokens.create.
type TokenParams struct {
	Name string `json:"name,omitempty" jsonschema:"a label for the token"`
}

// Token describes an API token; Secret is only set when it is created.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Secret  string    `json:"token,omitempty"`
}

// TokenList is the result of tokens.list.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// TokenID names a token.
type TokenID struct {
	ID string `json:"id"`
}
