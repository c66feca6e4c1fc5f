package natswire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// imsg is one message received by an internal client. The slices are the
// handler's to keep.
type imsg struct {
	Subject string
	Reply   string
	Hdr     []byte // raw header block including the NATS/1.0 line, or nil
	Data    []byte
}

// iclient is a minimal NATS protocol client used inside a tenant's account
// to serve JetStream. It speaks the text protocol directly so that raw
// header blocks, including status lines, pass through unchanged.
// Handlers run on the read loop and must not block.
type iclient struct {
	conn net.Conn
	r    *bufio.Reader

	wmu sync.Mutex // guards w, pongs, closed
	w   *bufio.Writer
	// pongs are waiters for the PONG answering each PING sent.
	pongs  []chan struct{}
	closed bool
	kick   chan struct{}

	smu     sync.Mutex // guards subs, nextSID
	subs    map[uint64]func(*imsg)
	nextSID uint64

	done    chan struct{}
	onPanic func(any)
}

var errClientClosed = errors.New("internal client closed")

// dialInternal runs the CONNECT handshake on conn.
func dialInternal(conn net.Conn, user, pass string, onPanic func(any)) (*iclient, error) {
	c := &iclient{
		conn:    conn,
		r:       bufio.NewReaderSize(conn, 64<<10),
		w:       bufio.NewWriterSize(conn, 64<<10),
		kick:    make(chan struct{}, 1),
		subs:    make(map[uint64]func(*imsg)),
		done:    make(chan struct{}),
		onPanic: onPanic,
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("internal client: read INFO: %w", err)
	}
	if len(line) < 4 || line[:4] != "INFO" {
		return nil, fmt.Errorf("internal client: expected INFO, got %q", line)
	}
	opts, _ := json.Marshal(map[string]any{
		"verbose": false, "pedantic": false, "user": user, "pass": pass,
		"name": "rewire-jetstream", "lang": "go", "version": "rewire", "protocol": 1,
		"headers": true, "no_responders": true, "echo": false,
	})
	fmt.Fprintf(c.w, "CONNECT %s\r\nPING\r\n", opts)
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("internal client: connect: %w", err)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("internal client: handshake: %w", err)
		}
		if len(line) >= 4 && line[:4] == "PONG" {
			break
		}
		if len(line) >= 4 && line[:4] == "-ERR" {
			return nil, fmt.Errorf("internal client: %s", line)
		}
	}
	conn.SetDeadline(time.Time{})
	go c.readLoop()
	go c.flushLoop()
	return c, nil
}

// Close closes the connection and waits for the read loop.
func (c *iclient) Close() {
	c.wmu.Lock()
	if !c.closed {
		c.closed = true
		c.w.Flush()
		close(c.kick)
	}
	c.wmu.Unlock()
	c.conn.Close()
	<-c.done
}

// Subscribe registers h for subject (with an optional queue group).
func (c *iclient) Subscribe(subject, queue string, h func(*imsg)) (uint64, error) {
	c.smu.Lock()
	c.nextSID++
	sid := c.nextSID
	c.subs[sid] = h
	c.smu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0, errClientClosed
	}
	if queue != "" {
		fmt.Fprintf(c.w, "SUB %s %s %d\r\n", subject, queue, sid)
	} else {
		fmt.Fprintf(c.w, "SUB %s %d\r\n", subject, sid)
	}
	c.kickLocked()
	return sid, nil
}

// Unsubscribe removes a subscription.
func (c *iclient) Unsubscribe(sid uint64) {
	c.smu.Lock()
	delete(c.subs, sid)
	c.smu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return
	}
	fmt.Fprintf(c.w, "UNSUB %d\r\n", sid)
	c.kickLocked()
}

// Publish sends a message; hdr is a raw header block or nil.
func (c *iclient) Publish(subject, reply string, hdr, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return errClientClosed
	}
	w := c.w
	if len(hdr) > 0 {
		w.WriteString("HPUB ")
	} else {
		w.WriteString("PUB ")
	}
	w.WriteString(subject)
	w.WriteByte(' ')
	if reply != "" {
		w.WriteString(reply)
		w.WriteByte(' ')
	}
	var num [20]byte
	if len(hdr) > 0 {
		w.Write(strconv.AppendInt(num[:0], int64(len(hdr)), 10))
		w.WriteByte(' ')
	}
	w.Write(strconv.AppendInt(num[:0], int64(len(hdr)+len(data)), 10))
	w.WriteString("\r\n")
	w.Write(hdr)
	w.Write(data)
	w.WriteString("\r\n")
	c.kickLocked()
	return nil
}

// Flush waits until the server has processed everything written so far.
func (c *iclient) Flush(timeout time.Duration) error {
	ch := make(chan struct{})
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return errClientClosed
	}
	c.pongs = append(c.pongs, ch)
	c.w.WriteString("PING\r\n")
	err := c.w.Flush()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-c.done:
		return errClientClosed
	case <-time.After(timeout):
		return errors.New("internal client: flush timeout")
	}
}

// FlushNow writes buffered output on the caller's goroutine, saving the
// hand-off to the flush loop where latency matters (publish acks).
func (c *iclient) FlushNow() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closed && c.w.Buffered() > 0 {
		c.w.Flush()
	}
}

func (c *iclient) kickLocked() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// flushLoop writes buffered output soon after it is produced, so that many
// publishes made together share one write.
func (c *iclient) flushLoop() {
	for range c.kick {
		c.wmu.Lock()
		if c.w.Buffered() > 0 {
			c.w.Flush()
		}
		c.wmu.Unlock()
	}
}

func (c *iclient) readLoop() {
	defer close(c.done)
	defer c.conn.Close()
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return
		}
		op, args := splitOp(line)
		switch op {
		case "MSG", "HMSG":
			a, err := parseMsgArgs(args, op == "HMSG")
			if err != nil {
				return
			}
			payload := make([]byte, a.total+2)
			if _, err := io.ReadFull(c.r, payload); err != nil {
				return
			}
			m := &imsg{Subject: a.subject, Reply: a.reply}
			if a.hdr > 0 {
				m.Hdr = payload[:a.hdr:a.hdr]
			}
			m.Data = payload[a.hdr:a.total:a.total]
			c.smu.Lock()
			h := c.subs[a.sid]
			c.smu.Unlock()
			if h != nil {
				c.dispatch(h, m)
			}
		case "PING":
			c.wmu.Lock()
			c.w.WriteString("PONG\r\n")
			c.kickLocked()
			c.wmu.Unlock()
		case "PONG":
			c.wmu.Lock()
			if len(c.pongs) > 0 {
				close(c.pongs[0])
				c.pongs = c.pongs[1:]
			}
			c.wmu.Unlock()
		}
	}
}

func (c *iclient) dispatch(h func(*imsg), m *imsg) {
	defer func() {
		if p := recover(); p != nil && c.onPanic != nil {
			c.onPanic(p)
		}
	}()
	h(m)
}

// splitOp returns the operation name and the rest of a control line
// without the line end.
func splitOp(line []byte) (string, []byte) {
	line = bytes.TrimRight(line, "\r\n")
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return string(line), nil
	}
	return string(line[:i]), line[i+1:]
}

type msgArgs struct {
	subject string
	sid     uint64
	reply   string
	hdr     int
	total   int
}

// maxInternalPayload caps a payload length read from the wire.
const maxInternalPayload = 64 << 20

// parseMsgArgs parses "subject sid [reply] [hdrlen] total".
func parseMsgArgs(args []byte, withHdr bool) (msgArgs, error) {
	f := bytes.Fields(args)
	var a msgArgs
	need := 3
	if withHdr {
		need = 4
	}
	if len(f) != need && len(f) != need+1 {
		return a, fmt.Errorf("bad MSG arguments %q", args)
	}
	a.subject = string(f[0])
	sid, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return a, fmt.Errorf("bad sid: %w", err)
	}
	a.sid = sid
	rest := f[2:]
	if len(f) == need+1 {
		a.reply = string(f[2])
		rest = f[3:]
	}
	if withHdr {
		if a.hdr, err = strconv.Atoi(string(rest[0])); err != nil {
			return a, fmt.Errorf("bad header size: %w", err)
		}
		rest = rest[1:]
	}
	if a.total, err = strconv.Atoi(string(rest[0])); err != nil {
		return a, fmt.Errorf("bad size: %w", err)
	}
	if a.hdr < 0 || a.total < a.hdr || a.total > maxInternalPayload {
		return a, fmt.Errorf("bad sizes %d/%d", a.hdr, a.total)
	}
	return a, nil
}
