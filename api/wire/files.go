package wire

import "time"

// Content encodings of file data in JSON.
const (
	EncodingUTF8   = "utf8"
	EncodingBase64 = "base64"
)

// PathParams names one path of the tenant's file tree.
type PathParams struct {
	Path string `json:"path" jsonschema:"slash-separated path in the tenant's file tree"`
}

// ReadParams are the parameters of files.read.
type ReadParams struct {
	Path     string `json:"path" jsonschema:"file to read"`
	Offset   int64  `json:"offset,omitempty" jsonschema:"first byte to return"`
	Length   int64  `json:"length,omitempty" jsonschema:"bytes to return (0: to the end, bounded by the server's limit)"`
	Encoding string `json:"encoding,omitempty" jsonschema:"utf8 (default) or base64"`
}

// ReadResult is the result of files.read.
type ReadResult struct {
	Content  string `json:"content"`
	Encoding string `json:"encoding"`
	Size     int64  `json:"size" jsonschema:"size of the whole file"`
	EOF      bool   `json:"eof" jsonschema:"whether the content reaches the end of the file"`
}

// WriteParams are the parameters of files.write and files.append.
type WriteParams struct {
	Path     string `json:"path" jsonschema:"file to write"`
	Content  string `json:"content" jsonschema:"data to write"`
	Encoding string `json:"encoding,omitempty" jsonschema:"utf8 (default) or base64"`
	Parents  bool   `json:"parents,omitempty" jsonschema:"create missing parent directories"`
}

// WriteResult is the result of files.write and files.append.
type WriteResult struct {
	Size int64 `json:"size" jsonschema:"size of the file after the write"`
}

// DeleteParams are the parameters of files.delete.
type DeleteParams struct {
	Path      string `json:"path" jsonschema:"file or directory to delete"`
	Recursive bool   `json:"recursive,omitempty" jsonschema:"delete a non-empty directory with its contents"`
}

// MoveParams are the parameters of files.move and files.copy.
type MoveParams struct {
	From string `json:"from" jsonschema:"source path"`
	To   string `json:"to" jsonschema:"destination path (replaced if it is a file)"`
}

// MkdirParams are the parameters of files.mkdir.
type MkdirParams struct {
	Path    string `json:"path" jsonschema:"directory to make"`
	Parents bool   `json:"parents,omitempty" jsonschema:"make missing parents; no error if it exists"`
}

// Stat describes one file.
type Stat struct {
	Path    string    `json:"path,omitempty"`
	Name    string    `json:"name"`
	Type    string    `json:"type" jsonschema:"file, dir or symlink"`
	Size    int64     `json:"size"`
	Mode    uint32    `json:"mode" jsonschema:"permission bits"`
	ModTime time.Time `json:"mtime"`
	Version int64     `json:"version" jsonschema:"grows with every change of the content"`
}

// ListResult is the result of files.list.
type ListResult struct {
	Entries []Stat `json:"entries"`
}

// ExistsResult is the result of files.exists.
type ExistsResult struct {
	Exists bool   `json:"exists"`
	Type   string `json:"type,omitempty"`
}

// SearchParams are the parameters of files.search: files under Path whose
// base name matches Name (a shell pattern) and whose content holds
// Content (a plain substring). Either may be empty, not both.
type SearchParams struct {
	Path       string `json:"path,omitempty" jsonschema:"directory to search (default: the root)"`
	Name       string `json:"name,omitempty" jsonschema:"shell pattern for the base name, e.g. *.go"`
	Content    string `json:"content,omitempty" jsonschema:"substring the file must contain"`
	MaxResults int    `json:"max_results,omitempty" jsonschema:"at most this many matches (default 100, at most 1000)"`
}

// SearchMatch is one file found by files.search.
type SearchMatch struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Line is the first line holding the content searched for, 1-based.
	Line int    `json:"line,omitempty"`
	Text string `json:"text,omitempty"`
}

// SearchResult is the result of files.search.
type SearchResult struct {
	Matches   []SearchMatch `json:"matches"`
	Truncated bool          `json:"truncated"`
}

// TreeParams are the parameters of files.tree.
type TreeParams struct {
	Path  string `json:"path,omitempty" jsonschema:"directory at the top of the tree (default: the root)"`
	Depth int    `json:"depth,omitempty" jsonschema:"levels to descend (default 3, at most 16)"`
}

// TreeNode is one node of files.tree.
type TreeNode struct {
	Name     string      `json:"name"`
	Type     string      `json:"type"`
	Size     int64       `json:"size,omitempty"`
	Children []*TreeNode `json:"children,omitempty"`
}

// TreeResult is the result of files.tree.
type TreeResult struct {
	Root      *TreeNode `json:"root"`
	Truncated bool      `json:"truncated"`
}

// OK is the result of methods that return nothing else.
type OK struct {
	OK bool `json:"ok"`
}
