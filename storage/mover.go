package storage

import "context"

// RunMover makes one pass of the background mover over this tenant: it
// applies log retention, compacts logs that have a compactor once they
// have grown by half since their last compaction, seals old or large log
// tails into warm segments,
// demotes blobs not read recently, and counts the bytes in each tier. The
// Store runs it periodically for open tenants; tests and tools may call it
// directly.
func (t *Tenant) RunMover(ctx context.Context) (MoveStats, error) {
	var st MoveStats
	names, err := t.logs.List(ctx, "")
	if err != nil {
		return st, err
	}
	for _, n := range names {
		l, err := t.logs.Open(ctx, n)
		if err != nil {
			continue // deleted meanwhile
		}
		trimmed, err := l.applyRetention(ctx)
		if err != nil {
			return st, err
		}
		if trimmed {
			st.Trimmed++
		}
		if l.Config().Compactor != "" && l.compactDirty() {
			if err := l.Compact(ctx); err != nil {
				return st, err
			}
		}
		sealed, err := l.Seal(ctx, false)
		st.Sealed += sealed
		if err != nil {
			return st, err
		}
	}
	if err := t.collectJournal(ctx); err != nil {
		return st, err
	}
	if err := t.blobs.demote(ctx, &st); err != nil {
		return st, err
	}
	if err := t.blobs.tierSizes(ctx, &st); err != nil {
		return st, err
	}
	var segBytes int64
	t.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM log_segments`).Scan(&segBytes)
	st.WarmBytes += segBytes
	return st, nil
}
