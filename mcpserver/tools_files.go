package mcpserver

import (
	"context"
	"path"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"rewire/api"
	"rewire/api/wire"
)

func (s *server) addFileTools(ms *mcp.Server) {
	addTool(s, ms, "fs_read", "Read a file of the tenant's tree (up to 8 MiB per call; use offset and length for parts).",
		(*api.Ops).Read)
	addTool(s, ms, "fs_write", "Create or replace a file with the given content (up to 8 MiB).",
		(*api.Ops).Write)
	addTool(s, ms, "fs_append", "Append content to a file, creating it if missing.",
		(*api.Ops).Append)
	addTool(s, ms, "fs_delete", "Delete a file, or a directory (recursive for a non-empty one).",
		(*api.Ops).Delete)
	addTool(s, ms, "fs_move", "Move or rename a file or directory.",
		(*api.Ops).Move)
	addTool(s, ms, "fs_copy", "Copy a file or a directory tree.",
		(*api.Ops).Copy)
	addTool(s, ms, "fs_list", "List a directory's entries with type, size and modification time.",
		func(o *api.Ops, ctx context.Context, p wire.PathParams) (wire.ListResult, error) {
			return o.List(ctx, p)
		})
	addTool(s, ms, "fs_mkdir", "Make a directory (parents: make missing parents too).",
		(*api.Ops).Mkdir)
	addTool(s, ms, "fs_stat", "Describe a file: type, size, permissions, modification time.",
		(*api.Ops).Stat)
	addTool(s, ms, "fs_exists", "Report whether a path exists and its type.",
		(*api.Ops).Exists)
	addTool(s, ms, "fs_search", "Find files under a directory by name pattern (e.g. *.go) and/or content substring.",
		(*api.Ops).Search)
	addTool(s, ms, "fs_tree", "Show the directory tree under a path to a bounded depth, as a list of "+
		"entries in depth-first order.", tree)
	addTool(s, ms, "sql_query", "Run one SQL statement (SQLite dialect, or dialect postgres for PostgreSQL syntax as psql uses; "+
		"? or $1 placeholders) with parameters on a "+
		"tenant database (the same files psql reaches through rewire) and return columns and rows.",
		(*api.Ops).SQLQuery)
}

// TreeEntry is one entry of fs_tree (a flat list: MCP output schemas
// cannot be recursive).
type TreeEntry struct {
	Path  string `json:"path"`
	Type  string `json:"type"`
	Size  int64  `json:"size,omitempty"`
	Depth int    `json:"depth"`
}

// TreeResult is the result of fs_tree.
type TreeResult struct {
	Entries   []TreeEntry `json:"entries"`
	Truncated bool        `json:"truncated"`
}

func tree(o *api.Ops, ctx context.Context, p wire.TreeParams) (TreeResult, error) {
	r, err := o.Tree(ctx, p)
	if err != nil {
		return TreeResult{}, err
	}
	out := TreeResult{Entries: []TreeEntry{}, Truncated: r.Truncated}
	var walk func(n *wire.TreeNode, dir string, depth int)
	walk = func(n *wire.TreeNode, dir string, depth int) {
		for _, c := range n.Children {
			fp := path.Join(dir, c.Name)
			out.Entries = append(out.Entries, TreeEntry{Path: fp, Type: c.Type, Size: c.Size, Depth: depth})
			walk(c, fp, depth+1)
		}
	}
	root, _ := api.CleanPath(p.Path)
	walk(r.Root, "/"+root, 1)
	return out, nil
}
