package storage

import "time"

// Policy decides where data lives. Zero fields take the server's value, and
// the server's zero fields take the defaults below.
type Policy struct {
	// HotMaxBytes: blobs up to this size are stored inline in the tenant's
	// SQLite; larger ones go straight to the warm tier. Default 1 MiB.
	HotMaxBytes int64 `json:"hot_max_bytes,omitempty" toml:"hot_max_bytes"`
	// WarmAfter: hot blobs not read for this long move to the warm tier,
	// and hot log batches older than this are sealed into warm segments.
	// Default 24h.
	WarmAfter time.Duration `json:"warm_after,omitempty" toml:"warm_after"`
	// ColdAfter: warm blobs not read for this long are compressed into the
	// cold tier. Default 30 days.
	ColdAfter time.Duration `json:"cold_after,omitempty" toml:"cold_after"`
	// LogHotBytes: when a log's hot tail grows past this, its oldest
	// batches are sealed into a warm segment. Default 64 MiB.
	LogHotBytes int64 `json:"log_hot_bytes,omitempty" toml:"log_hot_bytes"`
	// SegmentBytes is the target size of a sealed log segment. Default 8 MiB.
	SegmentBytes int64 `json:"segment_bytes,omitempty" toml:"segment_bytes"`
}

func (p Policy) withDefaults() Policy {
	return p.over(Policy{
		HotMaxBytes:  1 << 20,
		WarmAfter:    24 * time.Hour,
		ColdAfter:    30 * 24 * time.Hour,
		LogHotBytes:  64 << 20,
		SegmentBytes: 8 << 20,
	})
}

// over fills p's zero fields from base.
func (p Policy) over(base Policy) Policy {
	if p.HotMaxBytes == 0 {
		p.HotMaxBytes = base.HotMaxBytes
	}
	if p.WarmAfter == 0 {
		p.WarmAfter = base.WarmAfter
	}
	if p.ColdAfter == 0 {
		p.ColdAfter = base.ColdAfter
	}
	if p.LogHotBytes == 0 {
		p.LogHotBytes = base.LogHotBytes
	}
	if p.SegmentBytes == 0 {
		p.SegmentBytes = base.SegmentBytes
	}
	return p
}
