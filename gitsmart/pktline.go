package gitsmart

import (
	"errors"
	"fmt"
	"io"
)

// Packet kinds returned by pktReader.
const (
	pktData  = iota
	pktFlush // 0000
	pktDelim // 0001, protocol v2 section separator
	pktEnd   // 0002, protocol v2 response end
)

// maxPktPayload is the largest payload a pkt-line may carry.
const maxPktPayload = 65516

var errBadPkt = errors.New("bad pkt-line")

// pktReader reads pkt-lines. The slice returned by next is valid until the
// following call.
type pktReader struct {
	r   io.Reader
	buf [maxPktPayload + 4]byte
}

func newPktReader(r io.Reader) *pktReader { return &pktReader{r: r} }

// next returns the next packet's kind and payload. A clean end of input
// before a packet begins is io.EOF.
func (p *pktReader) next() (int, []byte, error) {
	hdr := p.buf[:4]
	if _, err := io.ReadFull(p.r, hdr); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: truncated length", errBadPkt)
		}
		return 0, nil, err
	}
	n := 0
	for _, c := range hdr {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, nil, fmt.Errorf("%w: length %q", errBadPkt, hdr)
		}
		n = n<<4 | int(v)
	}
	switch n {
	case 0:
		return pktFlush, nil, nil
	case 1:
		return pktDelim, nil, nil
	case 2:
		return pktEnd, nil, nil
	case 3:
		return 0, nil, fmt.Errorf("%w: length 3", errBadPkt)
	}
	if n > maxPktPayload+4 {
		return 0, nil, fmt.Errorf("%w: length %d", errBadPkt, n)
	}
	b := p.buf[4:n]
	if _, err := io.ReadFull(p.r, b); err != nil {
		return 0, nil, fmt.Errorf("%w: truncated payload: %w", errBadPkt, err)
	}
	return pktData, b, nil
}

// line is next for text packets: it strips one trailing newline.
func (p *pktReader) line() (int, string, error) {
	k, b, err := p.next()
	if k == pktData && len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return k, string(b), err
}

// pktWriter writes pkt-lines, keeping the first error.
type pktWriter struct {
	w   io.Writer
	err error
	hdr [4]byte
}

const hexDigits = "0123456789abcdef"

func (p *pktWriter) write(b []byte) {
	for len(b) > 0 && p.err == nil {
		chunk := b
		if len(chunk) > maxPktPayload {
			chunk = chunk[:maxPktPayload]
		}
		n := len(chunk) + 4
		p.hdr = [4]byte{hexDigits[n>>12&15], hexDigits[n>>8&15], hexDigits[n>>4&15], hexDigits[n&15]}
		if _, p.err = p.w.Write(p.hdr[:]); p.err == nil {
			_, p.err = p.w.Write(chunk)
		}
		b = b[len(chunk):]
	}
}

// linef writes one text packet.
func (p *pktWriter) linef(format string, a ...any) {
	p.write([]byte(fmt.Sprintf(format, a...)))
}

func (p *pktWriter) special(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s)
	}
}

func (p *pktWriter) flush() { p.special("0000") }
func (p *pktWriter) delim() { p.special("0001") }

// sideband multiplexes data, progress and error messages onto pkt-lines
// (side-band-64k). With band 0 it writes data unframed (no side-band).
type sideband struct {
	pw    *pktWriter
	max   int  // payload bytes per packet, band byte included
	on    bool // side-band negotiated
	quiet bool // no progress
	buf   []byte
}

func (s *sideband) Write(b []byte) (int, error) {
	if !s.on {
		if s.pw.err == nil {
			_, s.pw.err = s.pw.w.Write(b)
		}
		return len(b), s.pw.err
	}
	n := len(b)
	for len(b) > 0 && s.pw.err == nil {
		c := min(len(b), s.max-1)
		s.buf = append(s.buf[:0], 1)
		s.buf = append(s.buf, b[:c]...)
		s.pw.write(s.buf)
		b = b[c:]
	}
	return n, s.pw.err
}

// progress sends a progress message on band 2.
func (s *sideband) progress(format string, a ...any) {
	if !s.on || s.quiet {
		return
	}
	s.pw.write(append([]byte{2}, fmt.Sprintf(format, a...)...))
}

// fatal sends an error message on band 3 (or as an ERR packet).
func (s *sideband) fatal(msg string) {
	if s.on {
		s.pw.write(append([]byte{3}, msg+"\n"...))
		return
	}
	s.pw.linef("ERR %s\n", msg)
}
