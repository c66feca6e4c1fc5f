package natswire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A stream's messages are stored in its core log, one log offset per
// message (offset = sequence - 1). A log batch holds one or more
// consecutive messages, each encoded as
//
//	varint   timestamp (nanoseconds since the epoch)
//	uvarint  subject length, subject
//	uvarint  header length, raw header block (may be empty)
//	uvarint  payload length, payload
//
// The subject index table (natswire_msgs) says which sequences are still
// live; the log itself is only truncated from the front.

// storedMsg is one decoded stream message.
type storedMsg struct {
	seq  uint64
	ts   int64
	subj string
	hdr  []byte
	data []byte
}

func appendMsgRecord(dst []byte, ts int64, subj string, hdr, data []byte) []byte {
	dst = binary.AppendVarint(dst, ts)
	dst = binary.AppendUvarint(dst, uint64(len(subj)))
	dst = append(dst, subj...)
	dst = binary.AppendUvarint(dst, uint64(len(hdr)))
	dst = append(dst, hdr...)
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	return append(dst, data...)
}

var errBadRecord = errors.New("natswire: corrupt message record")

// decodeMsgRecords decodes the messages of one log batch whose first
// message has sequence firstSeq. The returned slices alias data.
func decodeMsgRecords(data []byte, firstSeq uint64, count int) ([]storedMsg, error) {
	if count < 0 || count > len(data) {
		return nil, fmt.Errorf("%w: count %d", errBadRecord, count)
	}
	out := make([]storedMsg, 0, count)
	for i := 0; i < count; i++ {
		var m storedMsg
		var n int
		m.ts, n = binary.Varint(data)
		if n <= 0 {
			return nil, errBadRecord
		}
		data = data[n:]
		var field [3][]byte
		for f := range field {
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return nil, errBadRecord
			}
			field[f] = data[n : n+int(l) : n+int(l)]
			data = data[n+int(l):]
		}
		m.seq = firstSeq + uint64(i)
		m.subj = string(field[0])
		if len(field[1]) > 0 {
			m.hdr = field[1]
		}
		m.data = field[2]
		out = append(out, m)
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadRecord, len(data))
	}
	return out, nil
}
