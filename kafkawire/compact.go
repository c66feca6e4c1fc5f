package kafkawire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"

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

// eachRecord calls fn with every record of one Kafka batch: its raw
// encoding, key (nil for none) and offset.
func eachRecord(batch []byte, fn func(raw, key []byte, off int64)) error {
	if int8(batch[16]) != 2 {
		return fmt.Errorf("record batch magic %d", int8(batch[16]))
	}
	attrs := int16(binary.BigEndian.Uint16(batch[21:]))
	base := int64(binary.BigEndian.Uint64(batch[0:]))
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
		rec := raw[:n+int(length)]
		raw = raw[n+int(length):]
		key, delta, err := recordKey(rec[n:])
		if err != nil {
			return err
		}
		fn(rec, key, base+delta)
	}
	return nil
}

// recordKey reads the offset delta and key of a record body (after its
// length): attributes int8, timestampDelta varlong, offsetDelta varint,
// keyLength varint, key.
func recordKey(b []byte) (key []byte, offsetDelta int64, err error) {
	if len(b) < 1 {
		return nil, 0, fmt.Errorf("truncated record")
	}
	b = b[1:]
	for i := 0; i < 3; i++ {
		v, n := binary.Varint(b)
		if n <= 0 {
			return nil, 0, fmt.Errorf("truncated record")
		}
		b = b[n:]
		switch i {
		case 1:
			offsetDelta = v
		case 2:
			if v < 0 {
				return nil, offsetDelta, nil // no key
			}
			if int64(len(b)) < v {
				return nil, 0, fmt.Errorf("truncated record key")
			}
			return b[:v], offsetDelta, nil
		}
	}
	return nil, 0, fmt.Errorf("truncated record")
}

func (batchCompactor) Keys(data []byte, fn func(key []byte, off int64)) error {
	return eachBatch(data, func(b []byte) error {
		if int16(binary.BigEndian.Uint16(b[21:]))&0x20 != 0 {
			return nil // control batch
		}
		return eachRecord(b, func(_, key []byte, off int64) {
			if key != nil {
				fn(key, off)
			}
		})
	})
}

func (batchCompactor) Rewrite(data []byte, keep func(key []byte, off int64) bool) ([]byte, error) {
	var out []byte
	changed := false
	err := eachBatch(data, func(b []byte) error {
		if int16(binary.BigEndian.Uint16(b[21:]))&0x20 != 0 {
			out = append(out, b...)
			return nil
		}
		var kept [][]byte
		dropped := false
		err := eachRecord(b, func(raw, key []byte, off int64) {
			if key == nil || keep(key, off) {
				kept = append(kept, raw)
			} else {
				dropped = true
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
