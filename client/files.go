package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"rewire/api/wire"
)

// Files is the tenant's file tree (the same tree the FUSE mount shows).
type Files struct{ c *Client }

// Files returns the file methods.
func (c *Client) Files() *Files { return &Files{c} }

// ReadFile returns a whole file of up to the server's inline limit
// (8 MiB); use Download for larger files.
func (f *Files) ReadFile(ctx context.Context, path string) ([]byte, error) {
	r, err := call[wire.ReadResult](ctx, f.c, "files.read", wire.ReadParams{Path: path, Encoding: wire.EncodingBase64})
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Content)
}

// Read calls files.read with explicit parameters.
func (f *Files) Read(ctx context.Context, p wire.ReadParams) (wire.ReadResult, error) {
	return call[wire.ReadResult](ctx, f.c, "files.read", p)
}

// WriteFile replaces a file's content; parents makes missing directories.
func (f *Files) WriteFile(ctx context.Context, path string, data []byte, parents bool) error {
	_, err := call[wire.WriteResult](ctx, f.c, "files.write", wire.WriteParams{Path: path,
		Content: base64.StdEncoding.EncodeToString(data), Encoding: wire.EncodingBase64, Parents: parents})
	return err
}

// Append adds data to the end of a file and returns its new size.
func (f *Files) Append(ctx context.Context, path string, data []byte) (int64, error) {
	r, err := call[wire.WriteResult](ctx, f.c, "files.append", wire.WriteParams{Path: path,
		Content: base64.StdEncoding.EncodeToString(data), Encoding: wire.EncodingBase64})
	return r.Size, err
}

// Delete removes a file or (recursively) a directory.
func (f *Files) Delete(ctx context.Context, path string, recursive bool) error {
	_, err := call[wire.OK](ctx, f.c, "files.delete", wire.DeleteParams{Path: path, Recursive: recursive})
	return err
}

// Move renames from to to.
func (f *Files) Move(ctx context.Context, from, to string) error {
	_, err := call[wire.OK](ctx, f.c, "files.move", wire.MoveParams{From: from, To: to})
	return err
}

// Copy copies a file or directory.
func (f *Files) Copy(ctx context.Context, from, to string) error {
	_, err := call[wire.OK](ctx, f.c, "files.copy", wire.MoveParams{From: from, To: to})
	return err
}

// List lists a directory.
func (f *Files) List(ctx context.Context, path string) ([]wire.Stat, error) {
	r, err := call[wire.ListResult](ctx, f.c, "files.list", wire.PathParams{Path: path})
	return r.Entries, err
}

// Mkdir makes a directory (and its parents if parents is set).
func (f *Files) Mkdir(ctx context.Context, path string, parents bool) error {
	_, err := call[wire.OK](ctx, f.c, "files.mkdir", wire.MkdirParams{Path: path, Parents: parents})
	return err
}

// Stat describes a file.
func (f *Files) Stat(ctx context.Context, path string) (wire.Stat, error) {
	return call[wire.Stat](ctx, f.c, "files.stat", wire.PathParams{Path: path})
}

// Exists reports whether something is at path.
func (f *Files) Exists(ctx context.Context, path string) (bool, error) {
	r, err := call[wire.ExistsResult](ctx, f.c, "files.exists", wire.PathParams{Path: path})
	return r.Exists, err
}

// Search finds files by name pattern and content.
func (f *Files) Search(ctx context.Context, p wire.SearchParams) (wire.SearchResult, error) {
	return call[wire.SearchResult](ctx, f.c, "files.search", p)
}

// Tree returns the tree under path to depth levels.
func (f *Files) Tree(ctx context.Context, path string, depth int) (wire.TreeResult, error) {
	return call[wire.TreeResult](ctx, f.c, "files.tree", wire.TreeParams{Path: path, Depth: depth})
}

func (f *Files) url(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return f.c.base + "/v1/files/" + strings.Join(parts, "/")
}

// Upload streams r into the file at path (replacing it when complete).
// The body is sent with chunked transfer encoding; it is not retried,
// since r cannot be rewound.
func (f *Files) Upload(ctx context.Context, path string, r io.Reader, parents bool) (int64, error) {
	u := f.url(path)
	if parents {
		u += "?parents=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, io.NopCloser(r))
	if err != nil {
		return 0, err
	}
	req.ContentLength = -1
	f.c.auth(req)
	resp, err := f.c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("rewire: upload %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return 0, statusError(resp)
	}
	var out struct{ Size int64 }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("rewire: upload %s: %w", path, err)
	}
	return out.Size, nil
}

func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var body struct{ Error *wire.Error }
	if json.Unmarshal(b, &body) == nil && body.Error != nil {
		return body.Error
	}
	return &StatusError{Status: resp.StatusCode, Body: string(b)}
}

// Download opens the file at path for reading from offset off; length
// less than 0 reads to the end. The caller closes the returned reader.
func (f *Files) Download(ctx context.Context, path string, off, length int64) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := f.c.retry(ctx, true, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url(path), nil)
		if err != nil {
			return err
		}
		if off > 0 || length >= 0 {
			if length >= 0 {
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
			} else {
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
			}
		}
		f.c.auth(req)
		resp, err := f.c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("rewire: download %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
			defer resp.Body.Close()
			return statusError(resp)
		}
		body = resp.Body
		return nil
	})
	return body, err
}
