package mcpserver

import (
	"bytes"
)

// maxMergeCells bounds the line-comparison table of one three-way merge
// (lines of base times lines of a side); larger files are left as
// conflicts rather than merged slowly.
const maxMergeCells = 4 << 20

// hunk replaces base lines [start, end) with repl.
type hunk struct {
	start, end int
	repl       [][]byte
}

// mergeText merges two edits of base line by line, as git's merge does
// for a file both branches changed: changes to separate regions of base
// both apply; changes that overlap or touch must be identical, or the
// merge fails. Binary content (a NUL byte) never merges.
func mergeText(base, ours, theirs []byte) ([]byte, bool) {
	for _, b := range [][]byte{base, ours, theirs} {
		if bytes.IndexByte(b, 0) >= 0 {
			return nil, false
		}
	}
	bl, ol, tl := splitLines(base), splitLines(ours), splitLines(theirs)
	oh, ok1 := diffHunks(bl, ol)
	th, ok2 := diffHunks(bl, tl)
	if !ok1 || !ok2 {
		return nil, false
	}
	var out bytes.Buffer
	pos := 0 // next base line to copy
	emit := func(h hunk) {
		for _, l := range bl[pos:h.start] {
			out.Write(l)
		}
		for _, l := range h.repl {
			out.Write(l)
		}
		pos = h.end
	}
	i, j := 0, 0
	for i < len(oh) || j < len(th) {
		switch {
		case j == len(th) || i < len(oh) && oh[i].end < th[j].start:
			emit(oh[i])
			i++
		case i == len(oh) || th[j].end < oh[i].start:
			emit(th[j])
			j++
		default:
			// The two changes overlap or touch: only the same change on
			// both sides merges.
			if oh[i].start != th[j].start || oh[i].end != th[j].end || !sameLines(oh[i].repl, th[j].repl) {
				return nil, false
			}
			emit(oh[i])
			i++
			j++
		}
	}
	for _, l := range bl[pos:] {
		out.Write(l)
	}
	return out.Bytes(), true
}

// splitLines splits b after each newline; the last line may lack one.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 {
			n = len(b)
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out
}

func sameLines(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// diffHunks lists the changes from a to b as hunks over a, from a longest
// common subsequence of lines. Common leading and trailing lines are
// trimmed first so that the table covers only the changed middle.
func diffHunks(a, b [][]byte) ([]hunk, bool) {
	pre := 0
	for pre < len(a) && pre < len(b) && bytes.Equal(a[pre], b[pre]) {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && bytes.Equal(a[len(a)-1-suf], b[len(b)-1-suf]) {
		suf++
	}
	am, bm := a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(am) == 0 && len(bm) == 0 {
		return nil, true
	}
	if (len(am)+1)*(len(bm)+1) > maxMergeCells {
		return nil, false
	}
	// lcs[i][j] is the LCS length of am[i:] and bm[j:].
	w := len(bm) + 1
	lcs := make([]int32, (len(am)+1)*w)
	for i := len(am) - 1; i >= 0; i-- {
		for j := len(bm) - 1; j >= 0; j-- {
			if bytes.Equal(am[i], bm[j]) {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var hunks []hunk
	var cur *hunk
	flush := func() {
		if cur != nil {
			hunks = append(hunks, *cur)
			cur = nil
		}
	}
	i, j := 0, 0
	for i < len(am) || j < len(bm) {
		switch {
		case i < len(am) && j < len(bm) && bytes.Equal(am[i], bm[j]):
			flush()
			i++
			j++
		case j < len(bm) && (i == len(am) || lcs[i*w+j+1] >= lcs[(i+1)*w+j]):
			if cur == nil {
				cur = &hunk{start: pre + i, end: pre + i}
			}
			cur.repl = append(cur.repl, bm[j])
			j++
		default:
			if cur == nil {
				cur = &hunk{start: pre + i, end: pre + i}
			}
			i++
			cur.end = pre + i
		}
	}
	flush()
	return hunks, true
}
