package gitstore

import (
	"errors"
	"os"
)

// fileFS adapts an *os.File to the billy.File interface go-git reads packs
// through.
type fileFS struct{ *os.File }

func (fileFS) Lock() error   { return nil }
func (fileFS) Unlock() error { return nil }

func (f fileFS) Truncate(int64) error { return errors.New("read-only") }
