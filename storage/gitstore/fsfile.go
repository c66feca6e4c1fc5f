package gitstore

import (
	"bytes"
	"errors"
)

// memFile adapts an in-memory pack to the billy.File interface go-git
// reads packs through.
type memFile struct{ *bytes.Reader }

func (*memFile) Name() string              { return "incoming.pack" }
func (*memFile) Write([]byte) (int, error) { return 0, errors.New("read-only") }
func (*memFile) Close() error              { return nil }
func (*memFile) Lock() error               { return nil }
func (*memFile) Unlock() error             { return nil }
func (*memFile) Truncate(int64) error      { return errors.New("read-only") }
