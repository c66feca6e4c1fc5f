package files

import (
	"strings"
	"testing"
)

// FuzzSplitPath feeds arbitrary paths (as the HTTP API will receive them)
// to the path splitter: it must not panic, and what it accepts must be
// valid entry names.
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"", "/", "a/b", "/a//b/", "./a", "../x", "a/../b", strings.Repeat("n", 300), "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		parts, err := splitPath(p)
		if err != nil {
			return
		}
		for _, s := range parts {
			if s == "" || s == "." || s == ".." || len(s) > MaxNameLen || strings.ContainsAny(s, "/\x00") {
				t.Fatalf("splitPath(%q) accepted %q", p, s)
			}
		}
	})
}
