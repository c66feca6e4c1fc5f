package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"

	"rewire/api/wire"
	"rewire/client"
	"rewire/storage/files"
)

func TestFilesMethods(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.alice.Files()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.WriteFile(ctx, "/docs/a/readme.md", []byte("hello\nneedle here\n"), true))
	n, err := f.Append(ctx, "/docs/a/readme.md", []byte("more"))
	must(err)
	if n != 22 {
		t.Fatalf("append size %d", n)
	}
	got, err := f.ReadFile(ctx, "docs/a/readme.md")
	must(err)
	if string(got) != "hello\nneedle here\nmore" {
		t.Fatalf("read %q", got)
	}
	r, err := f.Read(ctx, wire.ReadParams{Path: "docs/a/readme.md", Offset: 6, Length: 6})
	must(err)
	if r.Content != "needle" || r.EOF {
		t.Fatalf("ranged read %+v", r)
	}
	must(f.Copy(ctx, "/docs", "/copy"))
	must(f.Move(ctx, "/copy/a/readme.md", "/copy/moved.md"))
	must(f.Mkdir(ctx, "/x/y/z", true))
	ents, err := f.List(ctx, "/copy")
	must(err)
	if len(ents) != 2 || ents[0].Name != "a" || ents[1].Name != "moved.md" || ents[1].Size != 22 {
		t.Fatalf("list %+v", ents)
	}
	ok, err := f.Exists(ctx, "/copy/a/readme.md")
	must(err)
	if ok {
		t.Fatal("moved file still exists")
	}
	st, err := f.Stat(ctx, "/copy/moved.md")
	must(err)
	if st.Type != "file" || st.Size != 22 {
		t.Fatalf("stat %+v", st)
	}
	sr, err := f.Search(ctx, wire.SearchParams{Name: "*.md", Content: "needle"})
	must(err)
	if len(sr.Matches) != 2 || sr.Matches[0].Line != 2 || sr.Matches[0].Text != "needle here" {
		t.Fatalf("search %+v", sr)
	}
	tr, err := f.Tree(ctx, "/", 0)
	must(err)
	if len(tr.Root.Children) != 3 || tr.Root.Children[1].Name != "copy" {
		t.Fatalf("tree %+v", tr.Root)
	}
	// Errors: deleting a non-empty directory without recursive.
	err = f.Delete(ctx, "/docs", false)
	if client.ErrCode(err) != wire.CodeInvalidOp || !strings.Contains(err.Error(), "ENOTEMPTY") {
		t.Fatalf("delete non-empty: %v", err)
	}
	must(f.Delete(ctx, "/docs", true))
	if _, err := f.Stat(ctx, "/docs"); !client.IsNotFound(err) {
		t.Fatalf("deleted dir: %v", err)
	}
	if err := f.Copy(ctx, "/x", "/x/y/inside"); client.ErrCode(err) != wire.CodeInvalidParams {
		t.Fatalf("copy into itself: %v", err)
	}
	// The API writes the same tree the FUSE mount shows.
	tn, err := e.store.Acquire(ctx, "alice")
	must(err)
	defer tn.Release()
	data, err := files.New(tn).Paths().ReadFile(ctx, "copy/moved.md")
	must(err)
	if string(data) != "hello\nneedle here\nmore" {
		t.Fatalf("core sees %q", data)
	}
}

func TestAuthAndTenantIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.alice.Files().WriteFile(ctx, "secret.txt", []byte("alice only"), false); err != nil {
		t.Fatal(err)
	}
	// Bob sees his own empty tree, never alice's file.
	if _, err := e.bob.Files().ReadFile(ctx, "secret.txt"); !client.IsNotFound(err) {
		t.Fatalf("bob reads alice's file: %v", err)
	}
	// Wrong password, alice's password as bob, no credentials.
	for _, o := range []*client.Options{
		{User: "alice", Password: "wrong"},
		{User: "bob", Password: "alice-pw"},
		{},
		{User: "nobody", Password: "x"},
	} {
		o.Retries = -1
		_, err := client.New(e.srv.URL, o).Files().ReadFile(ctx, "secret.txt")
		var se *client.StatusError
		if !asStatus(err, &se) || se.Status != http.StatusUnauthorized {
			t.Fatalf("%+v: %v", o, err)
		}
	}
	// Tokens: create, use, forge for another tenant, revoke.
	tok, err := callToken(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	at := client.New(e.srv.URL, &client.Options{Token: tok.Secret, Retries: -1})
	if got, err := at.Files().ReadFile(ctx, "secret.txt"); err != nil || string(got) != "alice only" {
		t.Fatalf("token read: %q %v", got, err)
	}
	forged := strings.Replace(tok.Secret, "rw_alice_", "rw_bob_", 1)
	for _, o := range []*client.Options{
		{Token: forged, Retries: -1},
		{User: "bob", Token: tok.Secret, Retries: -1},
		{Token: tok.Secret + "x", Retries: -1},
	} {
		_, err := client.New(e.srv.URL, o).Files().ReadFile(ctx, "secret.txt")
		var se *client.StatusError
		if !asStatus(err, &se) || se.Status != http.StatusUnauthorized {
			t.Fatalf("token misuse %+v: %v", o, err)
		}
	}
	var list wire.TokenList
	if err := e.alice.Call(ctx, "tokens.list", nil, &list); err != nil || len(list.Tokens) != 1 || list.Tokens[0].Secret != "" {
		t.Fatalf("list: %+v %v", list, err)
	}
	// Bob cannot revoke alice's token: the id is not in his database.
	if err := e.bob.Call(ctx, "tokens.revoke", wire.TokenID{ID: tok.ID}, nil); !client.IsNotFound(err) {
		t.Fatalf("bob revokes alice's token: %v", err)
	}
	if err := e.alice.Call(ctx, "tokens.revoke", wire.TokenID{ID: tok.ID}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = at.Files().ReadFile(ctx, "secret.txt")
	var se *client.StatusError
	if !asStatus(err, &se) || se.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token still works: %v", err)
	}
}

func callToken(ctx context.Context, c *client.Client) (wire.Token, error) {
	var tok wire.Token
	err := c.Call(ctx, "tokens.create", wire.TokenParams{Name: "ci"}, &tok)
	return tok, err
}

func asStatus(err error, se **client.StatusError) bool {
	e, ok := err.(*client.StatusError)
	if !ok {
		return false
	}
	*se = e
	return true
}

func TestStreamingFiles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// 9 MiB + a bit: three chunks of the core, more than the inline limit.
	data := make([]byte, 9<<20+12345)
	rand.Read(data)
	n, err := e.alice.Files().Upload(ctx, "/big/blob.bin", bytes.NewReader(data), true)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("upload: %d %v", n, err)
	}
	rc, err := e.alice.Files().Download(ctx, "/big/blob.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("download differs: %d bytes", len(got))
	}
	// A range across a chunk boundary.
	off := int64(4<<20 - 100)
	rc, err = e.alice.Files().Download(ctx, "/big/blob.bin", off, 300)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data[off:off+300]) {
		t.Fatalf("range differs")
	}
	// Raw request: Range header, 206, Content-Range; a suffix range.
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/files/big/blob.bin", nil)
	req.SetBasicAuth("alice", "alice-pw")
	req.Header.Set("Range", "bytes=-10")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || !bytes.Equal(got, data[len(data)-10:]) ||
		resp.Header.Get("Content-Range") == "" {
		t.Fatalf("suffix range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	// Append by POST, seen by the RPC stat.
	req, _ = http.NewRequest("POST", e.srv.URL+"/v1/files/big/blob.bin", strings.NewReader("tail"))
	req.SetBasicAuth("alice", "alice-pw")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("append: %v %v", resp, err)
	}
	resp.Body.Close()
	st, err := e.alice.Files().Stat(ctx, "/big/blob.bin")
	if err != nil || st.Size != int64(len(data))+4 {
		t.Fatalf("stat after append: %+v %v", st, err)
	}
	// Bob cannot download alice's file; path traversal is refused.
	if _, err := e.bob.Files().Download(ctx, "/big/blob.bin", 0, -1); !client.IsNotFound(err) {
		t.Fatalf("bob downloads alice's file: %v", err)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/v1/files/big/%2e%2e/%2e%2e/x", nil)
	req.SetBasicAuth("alice", "alice-pw")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("traversal: %d", resp.StatusCode)
	}
	// No partial file is left by a failed upload: the listing holds only
	// the finished file.
	ents, err := e.alice.Files().List(ctx, "/big")
	if err != nil || len(ents) != 1 {
		t.Fatalf("list %+v %v", ents, err)
	}
}

// TestConcurrentAppends: appends racing on one file, the first of which
// creates it, all land.
func TestConcurrentAppends(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.alice.Files()
	const writers, each = 8, 10
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := f.Append(ctx, "/log.txt", []byte("0123456789\n")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.ReadFile(ctx, "/log.txt")
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * each * 11; len(got) != want || strings.Count(string(got), "0123456789\n") != writers*each {
		t.Fatalf("after %d appends the file holds %d bytes, want %d", writers*each, len(got), want)
	}
}
