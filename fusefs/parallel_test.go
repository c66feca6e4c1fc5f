package fusefs

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"rewire/internal/testtool"
)

// TestParallelTrees runs several processes at once in the mount, each
// unpacking, checking, renaming and removing its own tree in the same
// root directory: every step must succeed and the mount must end empty.
func TestParallelTrees(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "tar", "diff", "find")
	src := t.TempDir()
	tarball := filepath.Join(t.TempDir(), "t.tar")
	mk := `
		set -e
		cd "$1"
		for d in a b c d; do
			mkdir -p "$d/x/y"
			for i in $(seq 1 40); do head -c $((i * 211)) /dev/urandom > "$d/x/y/f$i"; done
			ln -s ../x "$d/link"
		done
		head -c 2500000 /dev/urandom > big
		tar -C "$1" -cf "$2" .
	`
	if out, err := exec.Command("bash", "-c", mk, "x", src, tarball).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			script := fmt.Sprintf(`
				for round in 1 2 3; do
					mkdir w%[1]d
					tar -C w%[1]d -xf %[2]s
					diff -r --no-dereference %[3]s w%[1]d
					mv w%[1]d/a w%[1]d/moved
					cat w%[1]d/moved/x/y/f7 > /dev/null
					test "$(find w%[1]d -type f | wc -l)" = 161
					ls -la > /dev/null
					rm -r w%[1]d
				done
			`, w, tarball, src)
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Dir = e.dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("worker %d: %v\n%s", w, err, out)
			}
		}()
	}
	wg.Wait()
	if out := e.sh(t, "ls -A"); out != "" {
		t.Fatalf("left behind: %q", out)
	}
}
