package kafkawire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"rewire/storage"
)

// compactorName names the Kafka compactor in a log's configuration.
const compactorName = "kafka"

func init() { storage.RegisterCompactor(compactorName, batchCompactor{}) }

// compacted reports whether a topic's cleanup.policy includes compact.
func compacted(configs map[string]string) bool {
	for _, p := range strings.Split(configs["cleanup.policy"], ",") {
		if strings.TrimSpace(p) == "compact" {
			return true
		}
	}
	return false
}

// batchCompactor compacts stored Kafka record batches for the core (see
// storage.Compactor). Control batches (transaction markers) stay as they
// are. A rewritten batch keeps its header, offsets and producer fields,
// holds the surviving records uncompressed, and gets a new length and
// CRC; a batch may be left with no records, as Kafka's cleaner leaves
// them, so that its offsets and producer state stay accounted for.
type batchCompactor struct{}

// kafkaRecord is what compaction reads of one record.
type kafkaRecord struct {
	raw       []byte // the record's encoding, length prefix included
	key       []byte // nil for none
	off       int64
	ts        int64 // milliseconds
	tombstone bool  // a key with a null value
}

// eachRecord calls fn with every record of one Kafka batch.
func eachRecord(batch []byte, fn func(r kafkaRecord)) error {
	if int8(batch[16]) != 2 {
		return fmt.Errorf("record batch magic %d", int8(batch[16]))
	}
	attrs := int16(binary.BigEndian.Uint16(batch[21:]))
	base := int64(binary.BigEndian.Uint64(batch[0:]))
	firstTS := int64(binary.BigEndian.Uint64(batch[27:]))
	maxTS := int64(binary.BigEndian.Uint64(batch[35:]))
	count := int32(binary.BigEndian.Uint32(batch[57:]))
	raw, err := decompress(attrs&0x7, batch[batchHeaderLen:])
	if err != nil {
		return err
	}
	for range count {
		length, n := binary.Varint(raw)
		if n <= 0 || length < 0 || int64(len(raw)-n) < length {
			return fmt.Errorf("truncated record")
		}
		r := kafkaRecord{raw: raw[:n+int(length)]}
		raw = raw[n+int(length):]
		var tsDelta, offDelta int64
		if r.key, tsDelta, offDelta, r.tombstone, err = recordHead(r.raw[n:]); err != nil {
			return err
		}
		r.off, r.ts = base+offDelta, firstTS+tsDelta
		if attrs&0x8 != 0 { // LogAppendTime
			r.ts = maxTS
		}
		fn(r)
	}
	return nil
}

// recordHead reads a record body (after its length) up to its value's
// length: attributes int8, timestampDelta varlong, offsetDelta varint,
// keyLength varint, key, valueLength varint.
func recordHead(b []byte) (key []byte, tsDelta, offDelta int64, tombstone bool, err error) {
	bad := fmt.Errorf("truncated record")
	if len(b) < 1 {
		return nil, 0, 0, false, bad
	}
	b = b[1:]
	next := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	var ok bool
	if tsDelta, ok = next(); !ok {
		return nil, 0, 0, false, bad
	}
	if offDelta, ok = next(); !ok {
		return nil, 0, 0, false, bad
	}
	klen, ok := next()
	if !ok || int64(len(b)) < klen {
		return nil, 0, 0, false, bad
	}
	if klen >= 0 {
		key, b = b[:klen], b[klen:]
	}
	vlen, ok := next()
	if !ok {
		return nil, 0, 0, false, bad
	}
	return key, tsDelta, offDelta, key != nil && vlen < 0, nil
}

func (batchCompactor) Keys(data []byte, fn func(key []byte, off int64)) error {
	return eachBatch(data, func(b []byte) error {
		if int16(binary.BigEndian.Uint16(b[21:]))&0x20 != 0 {
			return nil // control batch
		}
		return eachRecord(b, func(r kafkaRecord) {
			if r.key != nil {
				fn(r.key, r.off)
			}
		})
	})
}

func (batchCompactor) Rewrite(data []byte, keep func(key []byte, off int64) bool, cfg storage.LogConfig) ([]byte, error) {
	// A tombstone, the latest record of its key, goes once it is older
	// than delete.retention.ms.
	dropTombstonesBefore := int64(-1 << 63)
	ms, err := strconv.ParseInt(cfg.Extra["delete.retention.ms"], 10, 64)
	if err != nil {
		ms, _ = strconv.ParseInt(topicConfigDefaults["delete.retention.ms"], 10, 64)
	}
	if ms >= 0 {
		dropTombstonesBefore = time.Now().UnixMilli() - ms
	}
	var out []byte
	changed := false
	err = eachBatch(data, func(b []byte) error {
		if int16(binary.BigEndian.Uint16(b[21:]))&0x20 != 0 {
			out = append(out, b...)
			return nil
		}
		var kept [][]byte
		dropped := false
		err := eachRecord(b, func(r kafkaRecord) {
			switch {
			case r.key == nil:
				kept = append(kept, r.raw)
			case !keep(r.key, r.off), r.tombstone && r.ts <= dropTombstonesBefore:
				dropped = true
			default:
				kept = append(kept, r.raw)
			}
		})
		if err != nil {
			return err
		}
		if !dropped {
			out = append(out, b...)
			return nil
		}
		changed = true
		start := len(out)
		out = append(out, b[:batchHeaderLen]...)
		for _, r := range kept {
			out = append(out, r...)
		}
		nb := out[start:]
		binary.BigEndian.PutUint32(nb[8:], uint32(len(nb)-12))
		attrs := binary.BigEndian.Uint16(nb[21:]) &^ 0x7 // records now uncompressed
		binary.BigEndian.PutUint16(nb[21:], attrs)
		binary.BigEndian.PutUint32(nb[57:], uint32(len(kept)))
		binary.BigEndian.PutUint32(nb[17:], crc32.Checksum(nb[21:], crc32c))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !changed {
		return data, nil
	}
	return out, nil
}
