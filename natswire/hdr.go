package natswire

import (
	"bytes"
	"strings"
)

// JetStream header names rewire reads and writes.
const (
	hdrMsgID           = "Nats-Msg-Id"
	hdrExpStream       = "Nats-Expected-Stream"
	hdrExpLastSeq      = "Nats-Expected-Last-Sequence"
	hdrExpLastSubjSeq  = "Nats-Expected-Last-Subject-Sequence"
	hdrExpLastSubjSubj = "Nats-Expected-Last-Subject-Sequence-Subject"
	hdrTTL             = "Nats-TTL"
	hdrIncr            = "Nats-Incr"
	hdrBatchID         = "Nats-Batch-Id"
	hdrSchedule        = "Nats-Schedule"
	hdrExpLastMsgID    = "Nats-Expected-Last-Msg-Id"
	hdrRollup          = "Nats-Rollup"
	hdrStream          = "Nats-Stream"
	hdrSubject         = "Nats-Subject"
	hdrSequence        = "Nats-Sequence"
	hdrTimeStamp       = "Nats-Time-Stamp"
	hdrLastSequence    = "Nats-Last-Sequence"
	hdrConsumerStalled = "Nats-Consumer-Stalled"
	hdrLine            = "NATS/1.0"
)

// getHeader returns the first value of key in a raw header block, matching
// the key case-insensitively as nats-server does for JetStream headers.
func getHeader(hdr []byte, key string) string {
	if len(hdr) == 0 {
		return ""
	}
	lines := bytes.Split(hdr, []byte("\r\n"))
	for _, l := range lines[1:] {
		i := bytes.IndexByte(l, ':')
		if i <= 0 {
			continue
		}
		if strings.EqualFold(string(bytes.TrimSpace(l[:i])), key) {
			return string(bytes.TrimSpace(l[i+1:]))
		}
	}
	return ""
}

// makeHeader builds a raw header block with an optional status line and
// key/value pairs.
func makeHeader(status, desc string, kv ...string) []byte {
	var b bytes.Buffer
	b.WriteString(hdrLine)
	if status != "" {
		b.WriteByte(' ')
		b.WriteString(status)
		if desc != "" {
			b.WriteByte(' ')
			b.WriteString(desc)
		}
	}
	b.WriteString("\r\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i])
		b.WriteString(": ")
		b.WriteString(kv[i+1])
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// addHeaders appends key/value pairs to an existing raw header block (or
// makes a new one).
func addHeaders(hdr []byte, kv ...string) []byte {
	if len(hdr) < len(hdrLine)+4 {
		return makeHeader("", "", kv...)
	}
	out := make([]byte, 0, len(hdr)+64)
	out = append(out, hdr[:len(hdr)-2]...) // drop the final CRLF
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, kv[i]...)
		out = append(out, ": "...)
		out = append(out, kv[i+1]...)
		out = append(out, "\r\n"...)
	}
	return append(out, "\r\n"...)
}
