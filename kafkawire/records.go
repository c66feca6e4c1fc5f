package kafkawire

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkRecords walks the records of one produced batch, decompressing
// them if needed, as Kafka validates a batch before storing it: every
// record must parse, their number must match the header, their offset
// deltas must count up from 0, and nothing may follow the last one. A
// batch that passes is stored as received; a consumer never meets a record
// it cannot read.
func checkRecords(b batchInfo) (int16, error) {
	raw, err := decompress(b.attributes&0x7, b.data[batchHeaderLen:])
	if err != nil {
		return errCorruptMessage, fmt.Errorf("records do not decompress: %w", err)
	}
	for i := range b.records {
		length, n := binary.Varint(raw)
		if n <= 0 || length < 0 || length > int64(len(raw)-n) {
			return errCorruptMessage, fmt.Errorf("record %d of %d is truncated", i, b.records)
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:n+int(length)]); err != nil {
			return errCorruptMessage, fmt.Errorf("record %d: %w", i, err)
		}
		if r.OffsetDelta != i {
			return errInvalidRecord, fmt.Errorf("record %d has offset delta %d", i, r.OffsetDelta)
		}
		raw = raw[n+int(length):]
	}
	if len(raw) != 0 {
		return errInvalidRecord, fmt.Errorf("%d bytes follow the batch's %d records", len(raw), b.records)
	}
	return 0, nil
}
