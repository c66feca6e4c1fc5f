package gitsmart

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func pkts(lines ...string) []byte {
	var b bytes.Buffer
	pw := &pktWriter{w: &b}
	for _, l := range lines {
		switch l {
		case "0000":
			pw.flush()
		case "0001":
			pw.delim()
		default:
			pw.write([]byte(l))
		}
	}
	return b.Bytes()
}

const h1 = "1111111111111111111111111111111111111111"

func FuzzPktLine(f *testing.F) {
	f.Add(pkts("hello\n", "0000", "0001"))
	f.Add([]byte("0004"))
	f.Add([]byte("0003"))
	f.Add([]byte("fff0abc"))
	f.Add([]byte("00zz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pr := newPktReader(bytes.NewReader(data))
		for i := 0; i < 1000; i++ {
			k, b, err := pr.next()
			if err != nil {
				return
			}
			if k == pktData && len(b) > maxPktPayload {
				t.Fatalf("payload of %d bytes", len(b))
			}
			// What was read writes back to the same bytes.
			if k == pktData {
				var out bytes.Buffer
				(&pktWriter{w: &out}).write(b)
				back, _, _ := newPktReader(&out).next()
				if back != pktData && len(b) > 0 {
					t.Fatalf("round trip changed the packet kind")
				}
			}
		}
	})
}

func FuzzUploadRequest(f *testing.F) {
	f.Add(pkts("want "+h1+" multi_ack_detailed side-band-64k ofs-delta\n", "deepen 1\n", "0000", "have "+h1+"\n", "done\n"))
	f.Add(pkts("want "+h1+"\n", "shallow "+h1+"\n", "deepen-since 100\n", "deepen-not main\n", "filter blob:none\n", "0000", "0000"))
	f.Add(pkts("want zz\n", "0000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseUploadV0(bytes.NewReader(data))
		if err == nil && len(req.wants) == 0 {
			t.Fatalf("accepted a request without wants")
		}
		if err == nil {
			parseFilter(req.filter)
		}
	})
}

func FuzzV2Request(f *testing.F) {
	f.Add(pkts("command=ls-refs\n", "agent=git/2\n", "0001", "peel\n", "symrefs\n", "ref-prefix refs/heads/\n", "0000"))
	f.Add(pkts("command=fetch\n", "0001", "want "+h1+"\n", "thin-pack\n", "ofs-delta\n", "deepen 3\n", "done\n", "0000"))
	f.Add(pkts("command=fetch\n", "0001", "0001", "0000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseV2(bytes.NewReader(data))
		if err != nil {
			return
		}
		if req.command == "" {
			t.Fatalf("accepted a request without a command")
		}
		if req.command == "fetch" {
			if fr, err := fetchV2(req.args); err == nil {
				parseFilter(fr.filter)
			}
		}
	})
}

func FuzzPushRequest(f *testing.F) {
	zero := "0000000000000000000000000000000000000000"
	f.Add(pkts(zero+" "+h1+" refs/heads/main\x00report-status side-band-64k atomic push-options\n", "0000", "opt\n", "0000"))
	f.Add(pkts("shallow "+h1+"\n", h1+" "+zero+" refs/heads/x\n", "0000"))
	f.Add(pkts("bad\n", "0000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parsePush(newPktReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		for _, c := range req.cmds {
			if c.name == "" {
				t.Fatalf("command without a ref name")
			}
		}
		io.Discard.Write(nil)
	})
}

func FuzzPathAndFilter(f *testing.F) {
	f.Add("/git/acme/repo.git/info/refs", "blob:limit=1k")
	f.Add("/git/a/b/c", "tree:0")
	f.Fuzz(func(t *testing.T, path, filter string) {
		parseFilter(filter)
		if tenant, repo, _, ok := parsePath(path); ok && (tenant == "" || repo == "" || strings.Contains(repo, "/")) {
			t.Fatalf("accepted path %q", path)
		}
	})
}
