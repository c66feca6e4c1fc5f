package gitsmart

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Limits on what one request may carry.
const (
	maxWants    = 1 << 16
	maxHaves    = 1 << 20
	maxCommands = 1 << 14
)

var errProtocol = errors.New("protocol error")

func protoErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, a...))
}

// fetchReq is an upload-pack request (protocol v0/v1 or a v2 fetch).
type fetchReq struct {
	wants          []plumbing.Hash
	haves          []plumbing.Hash
	shallows       []plumbing.Hash // the client's shallow boundary
	depth          int
	deepenSince    int64
	deepenNot      []string
	deepenRelative bool
	filter         string
	done           bool
	caps           map[string]bool // capabilities or v2 fetch flags
	sawEOF         bool            // the body ended without flush or done
}

func (f *fetchReq) deepen() bool {
	return f.depth > 0 || f.deepenSince > 0 || len(f.deepenNot) > 0
}

func parseHash(s string) (plumbing.Hash, error) {
	var h plumbing.Hash
	if len(s) != 40 {
		return h, protoErr("bad object id %q", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, protoErr("bad object id %q", s)
	}
	return h, nil
}

// fetchArg applies one argument line shared by v0 and v2 requests. It
// reports false for a line it does not know.
func (f *fetchReq) fetchArg(line string) (bool, error) {
	key, val, _ := strings.Cut(line, " ")
	var err error
	switch key {
	case "want":
		if len(f.wants) >= maxWants {
			return true, protoErr("too many wants")
		}
		var h plumbing.Hash
		if h, err = parseHash(val); err == nil {
			f.wants = append(f.wants, h)
		}
	case "have":
		if len(f.haves) >= maxHaves {
			return true, protoErr("too many haves")
		}
		var h plumbing.Hash
		if h, err = parseHash(val); err == nil {
			f.haves = append(f.haves, h)
		}
	case "shallow":
		var h plumbing.Hash
		if h, err = parseHash(val); err == nil {
			f.shallows = append(f.shallows, h)
		}
	case "deepen":
		f.depth, err = strconv.Atoi(val)
		if err != nil || f.depth <= 0 {
			err = protoErr("bad deepen %q", val)
		}
	case "deepen-since":
		f.deepenSince, err = strconv.ParseInt(val, 10, 64)
		if err != nil || f.deepenSince <= 0 {
			err = protoErr("bad deepen-since %q", val)
		}
	case "deepen-not":
		if val == "" {
			err = protoErr("empty deepen-not")
		}
		f.deepenNot = append(f.deepenNot, val)
	case "deepen-relative":
		f.deepenRelative = true
	case "filter":
		f.filter = val
	case "done":
		f.done = true
	default:
		return false, nil
	}
	return true, err
}

// parseUploadV0 reads a protocol v0/v1 upload-pack request body: wants
// (the first carrying capabilities), shallow and deepen lines, a flush,
// then haves ending in a flush or "done".
func parseUploadV0(r io.Reader) (*fetchReq, error) {
	pr := newPktReader(r)
	f := &fetchReq{caps: map[string]bool{}}
	first := true
	for {
		k, line, err := pr.line()
		if err == io.EOF && len(f.wants) == 0 {
			return nil, protoErr("empty request")
		}
		if err != nil {
			return nil, err
		}
		if k == pktFlush {
			break
		}
		if k != pktData {
			return nil, protoErr("unexpected packet")
		}
		if first && strings.HasPrefix(line, "want ") {
			first = false
			if len(line) > 45 {
				for _, c := range strings.Fields(line[45:]) {
					f.caps[c] = true
				}
				line = line[:45]
			}
		}
		known, err := f.fetchArg(line)
		if err != nil {
			return nil, err
		}
		if !known || strings.HasPrefix(line, "have ") || line == "done" {
			return nil, protoErr("unexpected %q before flush", line)
		}
	}
	if len(f.wants) == 0 {
		return nil, protoErr("no wants")
	}
	if f.caps["deepen-relative"] {
		f.deepenRelative = true
	}
	for {
		k, line, err := pr.line()
		if err == io.EOF {
			f.sawEOF = true
			return f, nil
		}
		if err != nil {
			return nil, err
		}
		if k == pktFlush {
			return f, nil
		}
		if k != pktData || !(strings.HasPrefix(line, "have ") || line == "done") {
			return nil, protoErr("unexpected %q in negotiation", line)
		}
		if _, err := f.fetchArg(line); err != nil {
			return nil, err
		}
		if f.done {
			return f, nil
		}
	}
}

// v2Request is one protocol v2 command request.
type v2Request struct {
	command string
	caps    []string
	args    []string
}

// parseV2 reads "command=X", capability lines, an optional delimiter with
// arguments, and the closing flush.
func parseV2(r io.Reader) (*v2Request, error) {
	pr := newPktReader(r)
	req := &v2Request{}
	inArgs := false
	for n := 0; ; n++ {
		k, line, err := pr.line()
		if err == io.EOF && n == 0 {
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		switch k {
		case pktFlush:
			if req.command == "" {
				return nil, protoErr("no command")
			}
			return req, nil
		case pktDelim:
			if inArgs {
				return nil, protoErr("second delimiter")
			}
			inArgs = true
			continue
		case pktEnd:
			return nil, protoErr("unexpected response-end packet")
		}
		if n > maxWants+maxHaves {
			return nil, protoErr("request too long")
		}
		switch {
		case n == 0:
			c, ok := strings.CutPrefix(line, "command=")
			if !ok || c == "" {
				return nil, protoErr("expected command, got %q", line)
			}
			req.command = c
		case inArgs:
			req.args = append(req.args, line)
		default:
			req.caps = append(req.caps, line)
		}
	}
}

// fetchV2 turns the arguments of a v2 fetch into a fetchReq.
func fetchV2(args []string) (*fetchReq, error) {
	f := &fetchReq{caps: map[string]bool{}}
	for _, a := range args {
		known, err := f.fetchArg(a)
		if err != nil {
			return nil, err
		}
		if known {
			continue
		}
		switch a {
		case "thin-pack", "no-progress", "include-tag", "ofs-delta", "wait-for-done", "sideband-all":
			f.caps[a] = true
		default:
			if strings.HasPrefix(a, "want-ref ") || strings.HasPrefix(a, "packfile-uris ") {
				return nil, protoErr("unsupported argument %q", a)
			}
			return nil, protoErr("unknown argument %q", a)
		}
	}
	return f, nil
}

// pushReq is a receive-pack request's command section.
type pushReq struct {
	cmds    []pushCmd
	caps    map[string]bool
	options []string
}

type pushCmd struct {
	old, new plumbing.Hash
	name     string
}

// parsePush reads the commands (the first carrying capabilities after a
// NUL), the closing flush and, when negotiated, the push options. The
// pack, if any, follows in r.
func parsePush(pr *pktReader) (*pushReq, error) {
	p := &pushReq{caps: map[string]bool{}}
	for {
		k, line, err := pr.line()
		if err == io.EOF && len(p.cmds) == 0 {
			return nil, protoErr("empty request")
		}
		if err != nil {
			return nil, err
		}
		if k == pktFlush {
			break
		}
		if k != pktData {
			return nil, protoErr("unexpected packet")
		}
		if strings.HasPrefix(line, "shallow ") {
			continue // the client's shallow boundary: not needed to apply a push
		}
		if len(p.cmds) == 0 {
			var caps string
			line, caps, _ = strings.Cut(line, "\x00")
			for _, c := range strings.Fields(caps) {
				p.caps[c] = true
			}
		}
		if len(p.cmds) >= maxCommands {
			return nil, protoErr("too many commands")
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || f[2] == "" {
			return nil, protoErr("bad command %q", line)
		}
		var c pushCmd
		var err1, err2 error
		c.old, err1 = parseHash(f[0])
		c.new, err2 = parseHash(f[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		c.name = f[2]
		p.cmds = append(p.cmds, c)
	}
	if p.caps["push-options"] {
		for {
			k, line, err := pr.line()
			if err != nil {
				return nil, err
			}
			if k == pktFlush {
				break
			}
			if len(p.options) >= 1024 {
				return nil, protoErr("too many push options")
			}
			p.options = append(p.options, line)
		}
	}
	return p, nil
}
