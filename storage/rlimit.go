package storage

import "syscall"

// RaiseOpenFileLimit raises the process's open-file limit as far as it is
// allowed (up to want), since every open tenant holds a few descriptors:
// its database, write-ahead log and shared-memory index, for the writer and
// for each pooled reader. Go already raises the soft limit to the hard
// limit at start; a privileged process may raise the hard limit too. It
// returns the resulting soft limit.
func RaiseOpenFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	raised := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		// Not privileged: take what the hard limit allows.
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
		return lim.Max, nil
	}
	return want, nil
}
