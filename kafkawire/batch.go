package kafkawire

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch v2 layout (offsets into the batch):
//
//	0  baseOffset int64        (rewritten by rewire)
//	8  batchLength int32
//	12 partitionLeaderEpoch int32 (rewritten by rewire)
//	16 magic int8 (2)
//	17 crc uint32 (CRC-32C of everything from attributes on)
//	21 attributes int16
//	23 lastOffsetDelta int32
//	27 firstTimestamp int64
//	35 maxTimestamp int64
//	43 producerId int64
//	51 producerEpoch int16
//	53 baseSequence int32
//	57 recordCount int32
//	61 records
const batchHeaderLen = 61

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// batchInfo is what rewire needs from a produced batch's header.
type batchInfo struct {
	data          []byte
	count         int64 // offsets taken: lastOffsetDelta + 1
	records       int32
	attributes    int16
	maxTimestamp  int64
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	marker        bool // a transaction marker rewire writes
	commit        bool // for markers: commit rather than abort
}

func (b *batchInfo) transactional() bool { return b.attributes&0x10 != 0 }
func (b *batchInfo) control() bool       { return b.attributes&0x20 != 0 }

// splitBatches validates the record batches of one produced partition and
// returns them. Any malformed batch fails the whole set, as Kafka does.
func splitBatches(records []byte) ([]batchInfo, int16, error) {
	if len(records) == 0 {
		return nil, errInvalidRecord, fmt.Errorf("empty record set")
	}
	var out []batchInfo
	for len(records) > 0 {
		if len(records) < batchHeaderLen {
			return nil, errCorruptMessage, fmt.Errorf("truncated batch header")
		}
		length := int32(binary.BigEndian.Uint32(records[8:]))
		if length < batchHeaderLen-12 || int(length) > len(records)-12 {
			return nil, errCorruptMessage, fmt.Errorf("batch length %d does not fit %d bytes", length, len(records))
		}
		data := records[:12+int(length)]
		records = records[12+int(length):]
		if magic := int8(data[16]); magic != 2 {
			return nil, errUnsupportedForMessage, fmt.Errorf("record batch magic %d; only v2 is served", magic)
		}
		if crc := binary.BigEndian.Uint32(data[17:]); crc != crc32.Checksum(data[21:], crc32c) {
			return nil, errCorruptMessage, fmt.Errorf("record batch CRC mismatch")
		}
		b := batchInfo{
			data:          data,
			attributes:    int16(binary.BigEndian.Uint16(data[21:])),
			maxTimestamp:  int64(binary.BigEndian.Uint64(data[35:])),
			producerID:    int64(binary.BigEndian.Uint64(data[43:])),
			producerEpoch: int16(binary.BigEndian.Uint16(data[51:])),
			baseSequence:  int32(binary.BigEndian.Uint32(data[53:])),
			records:       int32(binary.BigEndian.Uint32(data[57:])),
		}
		delta := int32(binary.BigEndian.Uint32(data[23:]))
		if b.records <= 0 || delta < 0 || delta+1 != b.records {
			return nil, errInvalidRecord, fmt.Errorf("record count %d does not match offset delta %d", b.records, delta)
		}
		if b.attributes&0x7 == 0 && len(data) == batchHeaderLen {
			return nil, errCorruptMessage, fmt.Errorf("batch of %d records has no record bytes", b.records)
		}
		b.count = int64(delta) + 1
		out = append(out, b)
	}
	return out, 0, nil
}

// stampBatch writes the assigned base offset and leader epoch into a
// stored batch; neither is covered by the CRC.
func stampBatch(data []byte, base int64) {
	binary.BigEndian.PutUint64(data[0:], uint64(base))
	binary.BigEndian.PutUint32(data[12:], 0)
}

// errStop ends an iteration early.
var errStop = errors.New("stop")

// recordTimestamps calls fn with the offset and timestamp of each record
// in a stored core batch (one or more Kafka batches), decompressing as
// needed; fn returns false to stop.
func recordTimestamps(data []byte, fn func(off, ts int64) bool) error {
	err := eachBatch(data, func(b []byte) error {
		stop := false
		err := batchTimestamps(b, func(off, ts int64) bool {
			stop = !fn(off, ts)
			return !stop
		})
		if err == nil && stop {
			err = errStop
		}
		return err
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func batchTimestamps(data []byte, fn func(off, ts int64) bool) error {
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(data); err != nil {
		return fmt.Errorf("decode batch: %w", err)
	}
	raw, err := decompress(rb.Attributes&0x7, rb.Records)
	if err != nil {
		return err
	}
	for range rb.NumRecords {
		var r kmsg.Record
		length, n := binary.Varint(raw)
		if n <= 0 || int64(len(raw)-n) < length || length < 0 {
			return fmt.Errorf("truncated record")
		}
		rec := raw[:n+int(length)]
		raw = raw[n+int(length):]
		if err := r.ReadFrom(rec); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		ts := rb.FirstTimestamp + r.TimestampDelta64
		if rb.Attributes&0x8 != 0 { // LogAppendTime
			ts = rb.MaxTimestamp
		}
		if !fn(rb.FirstOffset+int64(r.OffsetDelta), ts) {
			return nil
		}
	}
	return nil
}

// maxDecompressed caps the records of one batch once decompressed, so that
// a small stored batch cannot make the server allocate without bound.
const maxDecompressed = 128 << 20

var errTooLarge = errors.New("decompressed batch exceeds 128 MiB")

// decompress undoes a batch's codec (0 none, 1 gzip, 2 snappy, 3 lz4,
// 4 zstd), refusing output beyond maxDecompressed.
func decompress(codec int16, in []byte) ([]byte, error) {
	switch codec {
	case 0:
		return in, nil
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(in))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return readCapped(zr)
	case 2:
		return unsnappy(in)
	case 3:
		return readCapped(lz4.NewReader(bytes.NewReader(in)))
	case 4:
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressed))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		out, err := zr.DecodeAll(in, nil)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

// readCapped reads r to the end, failing past maxDecompressed bytes.
func readCapped(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, errTooLarge
	}
	return out, nil
}

// xerialMagic opens snappy data framed the way the Java client writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func unsnappy(in []byte) ([]byte, error) {
	if !bytes.HasPrefix(in, xerialMagic) {
		if size, err := s2.DecodedLen(in); err == nil && size > maxDecompressed {
			return nil, errTooLarge
		}
		return s2.Decode(nil, in)
	}
	if len(in) < 16 {
		return nil, fmt.Errorf("snappy: truncated xerial header")
	}
	in = in[16:]
	var out []byte
	for len(in) >= 4 {
		n := int(binary.BigEndian.Uint32(in))
		in = in[4:]
		if n > len(in) {
			return nil, fmt.Errorf("snappy: truncated xerial chunk")
		}
		if size, err := s2.DecodedLen(in[:n]); err != nil || len(out)+size > maxDecompressed {
			return nil, errTooLarge
		}
		chunk, err := s2.Decode(nil, in[:n])
		if err != nil {
			return nil, fmt.Errorf("snappy: %w", err)
		}
		out = append(out, chunk...)
		in = in[n:]
	}
	return out, nil
}

func crc32cOf(b []byte) uint32 { return crc32.Checksum(b, crc32c) }

// encodeRecord encodes a record with its length prefix filled in (kmsg
// writes Length as given).
func encodeRecord(r kmsg.Record) []byte {
	for {
		b := r.AppendTo(nil)
		_, n := binary.Varint(b)
		if body := int32(len(b) - n); body != r.Length {
			r.Length = body
			continue
		}
		return b
	}
}
