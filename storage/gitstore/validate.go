package gitstore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// errMalformed marks an object that git fsck would reject.
var errMalformed = errors.New("malformed object")

func malformed(h plumbing.Hash, format string, a ...any) error {
	return fmt.Errorf("%w %s: %s", errMalformed, h, fmt.Sprintf(format, a...))
}

// parseHexLine reads "<key> <40 hex>\n" at the start of b.
func parseHexLine(b []byte, key string) (plumbing.Hash, []byte, bool) {
	var h plumbing.Hash
	p := key + " "
	if !bytes.HasPrefix(b, []byte(p)) || len(b) < len(p)+41 || b[len(p)+40] != '\n' {
		return h, b, false
	}
	if _, err := hex.Decode(h[:], b[len(p):len(p)+40]); err != nil {
		return h, b, false
	}
	return h, b[len(p)+41:], true
}

// checkIdent validates "Name <email> 1234567890 +0000".
func checkIdent(s string) bool {
	lt := strings.IndexByte(s, '<')
	gt := strings.IndexByte(s, '>')
	if lt < 0 || gt < lt || strings.IndexByte(s[lt+1:], '<') >= 0 || strings.IndexByte(s[gt+1:], '>') >= 0 {
		return false
	}
	if lt > 0 && s[lt-1] != ' ' {
		return false
	}
	rest := s[gt+1:]
	if len(rest) < 2 || rest[0] != ' ' {
		return false
	}
	f := strings.Split(rest[1:], " ")
	if len(f) != 2 || f[0] == "" || len(f[1]) != 5 || (f[1][0] != '+' && f[1][0] != '-') {
		return false
	}
	for _, c := range f[0] + f[1][1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkCommit validates a commit and returns its tree and parents.
func checkCommit(h plumbing.Hash, b []byte) (tree plumbing.Hash, parents []plumbing.Hash, err error) {
	tree, b, ok := parseHexLine(b, "tree")
	if !ok {
		return tree, nil, malformed(h, "bad tree line")
	}
	for bytes.HasPrefix(b, []byte("parent ")) {
		var p plumbing.Hash
		if p, b, ok = parseHexLine(b, "parent"); !ok {
			return tree, nil, malformed(h, "bad parent line")
		}
		parents = append(parents, p)
	}
	for _, key := range []string{"author ", "committer "} {
		i := bytes.IndexByte(b, '\n')
		if !bytes.HasPrefix(b, []byte(key)) || i < 0 || !checkIdent(string(b[len(key):i])) {
			return tree, nil, malformed(h, "bad %sline", key)
		}
		b = b[i+1:]
	}
	return tree, parents, nil
}

// TreeEntry is one entry of a tree object.
type TreeEntry struct {
	Mode uint32
	Name []byte
	Hash plumbing.Hash
}

// ParseTree splits a tree object into entries without checking them.
func ParseTree(b []byte, fn func(e TreeEntry) error) error {
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 || sp > 7 {
			return fmt.Errorf("%w: bad tree entry mode", errMalformed)
		}
		var mode uint32
		for _, c := range b[:sp] {
			if c < '0' || c > '7' {
				return fmt.Errorf("%w: bad tree entry mode", errMalformed)
			}
			mode = mode<<3 | uint32(c-'0')
		}
		b = b[sp+1:]
		nul := bytes.IndexByte(b, 0)
		if nul < 0 || len(b) < nul+21 {
			return fmt.Errorf("%w: truncated tree entry", errMalformed)
		}
		e := TreeEntry{Mode: mode, Name: b[:nul]}
		copy(e.Hash[:], b[nul+1:nul+21])
		b = b[nul+21:]
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// IsGitlink reports whether a tree entry names a submodule commit.
func IsGitlink(mode uint32) bool { return mode == 0o160000 }

// IsTree reports whether a tree entry names a subtree.
func IsTree(mode uint32) bool { return mode == 0o40000 }

// checkTree validates a tree and calls ref for each object it names.
func checkTree(h plumbing.Hash, b []byte, ref func(plumbing.Hash, uint32) error) error {
	var prev []byte
	var prevTree bool
	first := true
	err := ParseTree(b, func(e TreeEntry) error {
		switch e.Mode {
		case 0o100644, 0o100755, 0o100664, 0o120000, 0o40000, 0o160000:
		default:
			return malformed(h, "bad mode %o", e.Mode)
		}
		n := string(e.Name)
		if n == "" || n == "." || n == ".." || strings.EqualFold(n, ".git") || strings.IndexByte(n, '/') >= 0 {
			return malformed(h, "bad entry name %q", n)
		}
		isTree := IsTree(e.Mode)
		if !first && compareTreeNames(prev, prevTree, e.Name, isTree) >= 0 {
			return malformed(h, "entries not sorted or duplicated at %q", n)
		}
		first, prev, prevTree = false, e.Name, isTree
		return ref(e.Hash, e.Mode)
	})
	if err != nil && errors.Is(err, errMalformed) && !strings.Contains(err.Error(), h.String()) {
		return malformed(h, "%v", err)
	}
	return err
}

// compareTreeNames orders entries as git does: a tree sorts as if its name
// ended in '/'.
func compareTreeNames(a []byte, aTree bool, b []byte, bTree bool) int {
	if bytes.Equal(a, b) {
		return 0 // a duplicate, whatever the kinds
	}
	n := min(len(a), len(b))
	if c := bytes.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	ca, cb := byte(0), byte(0)
	if len(a) > n {
		ca = a[n]
	} else if aTree {
		ca = '/'
	}
	if len(b) > n {
		cb = b[n]
	} else if bTree {
		cb = '/'
	}
	return int(ca) - int(cb)
}

// checkTag validates an annotated tag and returns its target.
func checkTag(h plumbing.Hash, b []byte) (plumbing.Hash, plumbing.ObjectType, error) {
	target, b, ok := parseHexLine(b, "object")
	if !ok {
		return target, 0, malformed(h, "bad object line")
	}
	i := bytes.IndexByte(b, '\n')
	if !bytes.HasPrefix(b, []byte("type ")) || i < 0 {
		return target, 0, malformed(h, "bad type line")
	}
	typ, err := plumbing.ParseObjectType(string(b[5:i]))
	if err != nil || typ < plumbing.CommitObject || typ > plumbing.TagObject {
		return target, 0, malformed(h, "bad type %q", b[5:i])
	}
	b = b[i+1:]
	i = bytes.IndexByte(b, '\n')
	if !bytes.HasPrefix(b, []byte("tag ")) || i <= 4 {
		return target, 0, malformed(h, "bad tag line")
	}
	return target, typ, nil
}

// ValidRefName reports whether name is a reference a push may change,
// following git check-ref-format.
func ValidRefName(name string) bool {
	if !strings.HasPrefix(name, "refs/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") ||
		strings.HasSuffix(name, ".lock") || strings.Contains(name, "..") || strings.Contains(name, "//") ||
		strings.Contains(name, "@{") || name == "@" {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part[0] == '.' {
			return false
		}
	}
	return true
}
