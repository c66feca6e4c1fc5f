package fusefs

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"rewire/internal/testtool"
)

func TestCoreutils(t *testing.T) {
	e := mountT(t)
	out := e.sh(t, `
		echo hello > a.txt
		cat a.txt
		mkdir -p d/e/f
		cp a.txt d/e/f/b.txt
		mv d/e/f/b.txt d/c.txt
		ln d/c.txt hard.txt
		ln -s d/c.txt soft.txt
		stat -c '%h %s %F' d/c.txt
		readlink soft.txt
		cat soft.txt
		truncate -s 3 hard.txt
		cat d/c.txt; echo
		truncate -s 10 hard.txt
		stat -c %s d/c.txt
		od -An -c d/c.txt | tr -s ' '
		chmod 640 a.txt; stat -c %a a.txt
		chown 12:34 a.txt; stat -c %u:%g a.txt
		touch -d '2001-02-03 04:05:06.123456789' a.txt; stat -c %y a.txt
		ls -a d | tr '\n' ' '; echo
		rm hard.txt soft.txt
		stat -c %h d/c.txt
		rm -r d
		ls
	`)
	want := []string{
		"hello",
		"2 6 regular file",
		"d/c.txt",
		"hello",
		"hel",
		"10",
		" h e l \\0 \\0 \\0 \\0 \\0 \\0 \\0",
		"640",
		"12:34",
		"2001-02-03 04:05:06.123456789",
		". .. c.txt e ",
		"1",
		"a.txt",
	}
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestErrnos(t *testing.T) {
	e := mountT(t)
	e.sh(t, `mkdir -p dir/sub; echo x > file`)
	long := strings.Repeat("n", 256)
	cases := []struct {
		name string
		op   func() error
		want syscall.Errno
	}{
		{"open missing", func() error { _, err := os.Open(e.path("nope")); return err }, syscall.ENOENT},
		{"mkdir exists", func() error { return os.Mkdir(e.path("dir"), 0o755) }, syscall.EEXIST},
		{"create excl", func() error {
			_, err := os.OpenFile(e.path("file"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			return err
		}, syscall.EEXIST},
		{"rmdir not empty", func() error { return syscall.Rmdir(e.path("dir")) }, syscall.ENOTEMPTY},
		{"file as dir", func() error { _, err := os.Stat(e.path("file/x")); return err }, syscall.ENOTDIR},
		{"rmdir file", func() error { return syscall.Rmdir(e.path("file")) }, syscall.ENOTDIR},
		{"write dir", func() error { _, err := os.OpenFile(e.path("dir"), os.O_WRONLY, 0); return err }, syscall.EISDIR},
		{"unlink dir", func() error { return syscall.Unlink(e.path("dir")) }, syscall.EISDIR},
		{"long name", func() error { return os.WriteFile(e.path(long), nil, 0o644) }, syscall.ENAMETOOLONG},
		{"rename into self", func() error { return os.Rename(e.path("dir"), e.path("dir/sub/x")) }, syscall.EINVAL},
		{"rename dir over file", func() error { return os.Rename(e.path("dir"), e.path("file")) }, syscall.ENOTDIR},
		{"link dir", func() error { return os.Link(e.path("dir"), e.path("dl")) }, syscall.EPERM},
		{"readlink file", func() error { _, err := os.Readlink(e.path("file")); return err }, syscall.EINVAL},
	}
	for _, c := range cases {
		err := c.op()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestDirectIOAndSpecialFiles covers O_DIRECT reads and writes, FIFOs
// (one process writes, another reads through the mount) and sockets
// bound inside the mount.
func TestDirectIOAndSpecialFiles(t *testing.T) {
	e := mountT(t)
	testtool.NeedFUSE(t, "python3", "mkfifo")
	out := e.sh(t, `
		head -c 1048576 /dev/urandom > src
		dd if=src of=d bs=64k oflag=direct status=none
		dd if=d of=d2 bs=64k iflag=direct status=none
		cmp src d2 && echo direct ok
		mkfifo p
		stat -c %F p
		(echo through the fifo > p &) ; cat p
		python3 -c '
import socket
s = socket.socket(socket.AF_UNIX); s.bind("sock"); s.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect("sock")
a, _ = s.accept(); c.sendall(b"over the socket"); print(a.recv(64).decode())
'
		stat -c %F sock
	`)
	want := "direct ok\nfifo\nthrough the fifo\nover the socket\nsocket\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}
