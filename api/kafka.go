package api

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka record batches (magic 2) as kafkawire stores them: each core
// batch holds one or more Kafka batches back to back, each with its base
// offset stamped at bytes 0–7 (outside the CRC, which covers byte 21 on).

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// KafkaRecord is one record to encode.
type KafkaRecord struct {
	Key, Value []byte // nil for a null key or value
	Headers    []kmsg.Header
}

// EncodeBatch encodes records as one uncompressed Kafka record batch with
// base offset 0, all timestamped ts (milliseconds), without a producer id.
func EncodeBatch(recs []KafkaRecord, ts int64) []byte {
	var body []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value, Headers: r.Headers}
		enc := rec.AppendTo(nil)[1:] // everything after a zero Length varint
		rec.Length = int32(len(enc))
		body = rec.AppendTo(body)
	}
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp:  ts,
		MaxTimestamp:    ts,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(len(recs)),
		Records:         body,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// StampBatch writes the base offset into an encoded batch.
func StampBatch(data []byte, base int64) {
	binary.BigEndian.PutUint64(data[0:], uint64(base))
}

// DecodedRecord is one record read back from a log.
type DecodedRecord struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []kmsg.Header
}

// maxInflate bounds the decompressed size of one batch.
const maxInflate = 64 << 20

// DecodeBatches calls fn for each data record in a stored core batch,
// decompressing as needed and skipping control batches. fn returns false
// to stop.
func DecodeBatches(data []byte, fn func(DecodedRecord) bool) error {
	for len(data) > 0 {
		if len(data) < 61 {
			return errors.New("kafka batch: truncated header")
		}
		n := int(int32(binary.BigEndian.Uint32(data[8:]))) + 12
		if n < 61 || n > len(data) {
			return errors.New("kafka batch: bad length")
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:n]); err != nil {
			return fmt.Errorf("kafka batch: %w", err)
		}
		data = data[n:]
		if b.Magic != 2 {
			return fmt.Errorf("kafka batch: magic %d", b.Magic)
		}
		if b.Attributes&0x20 != 0 {
			continue // control batch (transaction markers)
		}
		raw, err := inflate(b.Attributes&7, b.Records)
		if err != nil {
			return fmt.Errorf("kafka batch: %w", err)
		}
		for i := int32(0); i < b.NumRecords && len(raw) > 0; i++ {
			l, k := binary.Varint(raw)
			if k <= 0 || l < 0 || int64(len(raw)-k) < l {
				return errors.New("kafka record: bad length")
			}
			var r kmsg.Record
			if err := r.ReadFrom(raw[:k+int(l)]); err != nil {
				return fmt.Errorf("kafka record: %w", err)
			}
			raw = raw[k+int(l):]
			d := r.TimestampDelta64
			if d == 0 {
				d = int64(r.TimestampDelta)
			}
			ts := b.FirstTimestamp + d
			if b.Attributes&0x08 != 0 {
				ts = b.MaxTimestamp // log-append time
			}
			if !fn(DecodedRecord{Offset: b.FirstOffset + int64(r.OffsetDelta), Timestamp: ts,
				Key: r.Key, Value: r.Value, Headers: r.Headers}) {
				return nil
			}
		}
	}
	return nil
}

// inflate undoes a batch's compression codec.
func inflate(codec int16, in []byte) ([]byte, error) {
	var rd io.Reader
	switch codec {
	case 0:
		return in, nil
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(in))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		rd = zr
	case 2:
		return unsnappy(in)
	case 3:
		rd = lz4.NewReader(bytes.NewReader(in))
	case 4:
		zr, err := zstd.NewReader(bytes.NewReader(in), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("unknown codec %d", codec)
	}
	out, err := io.ReadAll(io.LimitReader(rd, maxInflate+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxInflate {
		return nil, errors.New("decompressed batch too large")
	}
	return out, nil
}

// snappyFramed starts snappy data in the Java client's framing: a magic,
// two version words, then length-prefixed blocks.
var snappyFramed = []byte("\x82SNAPPY\x00")

func unsnappy(in []byte) ([]byte, error) {
	if !bytes.HasPrefix(in, snappyFramed) {
		return decodeSnappyBlock(in)
	}
	if len(in) < 16 {
		return nil, errors.New("snappy: short header")
	}
	in = in[16:]
	var out []byte
	for len(in) > 0 {
		if len(in) < 4 {
			return nil, errors.New("snappy: truncated block length")
		}
		n := binary.BigEndian.Uint32(in)
		in = in[4:]
		if uint64(n) > uint64(len(in)) {
			return nil, errors.New("snappy: truncated block")
		}
		blk, err := decodeSnappyBlock(in[:n])
		if err != nil {
			return nil, err
		}
		if out = append(out, blk...); len(out) > maxInflate {
			return nil, errors.New("decompressed batch too large")
		}
		in = in[n:]
	}
	return out, nil
}

func decodeSnappyBlock(b []byte) ([]byte, error) {
	n, err := s2.DecodedLen(b)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	if n > maxInflate {
		return nil, errors.New("decompressed batch too large")
	}
	out, err := s2.Decode(nil, b)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	return out, nil
}

func randomID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	return id
}

func nowMillis() int64 { return time.Now().UnixMilli() }
