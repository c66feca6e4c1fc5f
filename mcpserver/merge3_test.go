package mcpserver

import "testing"

func TestMergeText(t *testing.T) {
	base := "a\nb\nc\nd\ne\nf\ng\n"
	for _, tc := range []struct {
		name, ours, theirs, want string
		ok                       bool
	}{
		{"separate regions", "A\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nd\ne\nf\nG\n", "A\nb\nc\nd\ne\nf\nG\n", true},
		{"insert and delete apart", "a\nb\nnew\nc\nd\ne\nf\ng\n", "a\nb\nc\nd\ne\ng\n", "a\nb\nnew\nc\nd\ne\ng\n", true},
		{"same change both sides", "a\nb\nX\nd\ne\nf\ng\n", "a\nb\nX\nd\ne\nf\ng\n", "a\nb\nX\nd\ne\nf\ng\n", true},
		{"same change plus another", "a\nb\nX\nd\ne\nf\ng\n", "a\nb\nX\nd\ne\nf\nG\n", "a\nb\nX\nd\ne\nf\nG\n", true},
		{"overlapping", "a\nb\nX\nd\ne\nf\ng\n", "a\nb\nY\nd\ne\nf\ng\n", "", false},
		{"adjacent lines", "a\nB\nc\nd\ne\nf\ng\n", "a\nb\nC\nd\ne\nf\ng\n", "", false},
		{"both append differently", base + "x\n", base + "y\n", "", false},
		{"one side unchanged", base, "a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\ne\nf\ng\nh\n", true},
		{"binary", "a\x00", base, "", false},
		{"missing final newline", "A\nb\nc\nd\ne\nf\ng", "a\nb\nc\nd\ne\nf\ng\n", "A\nb\nc\nd\ne\nf\ng", true},
		{"final newline against an edit", "a\nb\nc\nd\ne\nf\ng", "a\nb\nc\nd\ne\nf\nG\n", "", false},
	} {
		got, ok := mergeText([]byte(base), []byte(tc.ours), []byte(tc.theirs))
		if ok != tc.ok || ok && string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
