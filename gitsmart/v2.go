package gitsmart

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"rewire/storage/gitstore"
)

// advertiseV2 writes the protocol v2 capability advertisement.
func advertiseV2(pw *pktWriter) {
	pw.linef("version 2\n")
	pw.linef("agent=%s\n", agent)
	pw.linef("ls-refs=unborn\n")
	pw.linef("fetch=shallow filter\n")
	pw.linef("server-option\n")
	pw.linef("object-format=sha1\n")
	pw.flush()
}

// serveV2 answers one protocol v2 command.
func (h *handler) serveV2(q *request, repo *gitstore.Repo, body io.Reader) {
	req, err := parseV2(io.LimitReader(body, maxRequestBytes))
	if err != nil {
		q.log.Warn("bad protocol v2 request", "err", err)
		q.w.WriteHeader(400)
		fmt.Fprintln(q.w, err)
		return
	}
	for _, c := range req.caps {
		if v, ok := strings.CutPrefix(c, "object-format="); ok && v != "sha1" {
			q.w.WriteHeader(400)
			fmt.Fprintf(q.w, "unsupported object format %q\n", v)
			return
		}
	}
	q.start("application/x-git-upload-pack-result")
	bw := bufio.NewWriterSize(q.w, 64<<10)
	defer bw.Flush()
	pw := &pktWriter{w: bw}
	switch req.command {
	case "ls-refs":
		lsRefs(pw, repo, req.args)
	case "fetch":
		h.fetchV2(q, pw, repo, req.args)
	default:
		pw.linef("ERR unknown command %q\n", req.command)
	}
}

func lsRefs(pw *pktWriter, repo *gitstore.Repo, args []string) {
	var symrefs, peel, unborn bool
	var prefixes []string
	for _, a := range args {
		switch {
		case a == "symrefs":
			symrefs = true
		case a == "peel":
			peel = true
		case a == "unborn":
			unborn = true
		case strings.HasPrefix(a, "ref-prefix "):
			prefixes = append(prefixes, a[len("ref-prefix "):])
		}
	}
	match := func(name string) bool {
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	w := newWalker(repo)
	if match("HEAD") {
		head, ok := repo.Ref(repo.Head)
		attr := ""
		if symrefs {
			attr = " symref-target:" + repo.Head
		}
		switch {
		case ok:
			pw.linef("%s HEAD%s\n", head, attr)
		case unborn:
			pw.linef("unborn HEAD%s\n", attr)
		}
	}
	for _, ref := range repo.Refs {
		if !match(ref.Name) {
			continue
		}
		line := ref.Hash.String() + " " + ref.Name
		if peel && strings.HasPrefix(ref.Name, "refs/tags/") {
			if t, _, tags, err := w.peel(ref.Hash); err == nil && len(tags) > 0 {
				line += " peeled:" + t.String()
			}
		}
		pw.linef("%s\n", line)
	}
	pw.flush()
}

func (h *handler) fetchV2(q *request, pw *pktWriter, repo *gitstore.Repo, args []string) {
	f, err := fetchV2(args)
	if err != nil {
		pw.linef("ERR %s\n", err)
		return
	}
	w := newWalker(repo)
	if err := checkWants(w, f.wants); err != nil {
		pw.linef("ERR %s\n", err)
		return
	}
	if _, err := parseFilter(f.filter); err != nil {
		pw.linef("ERR %s\n", err)
		return
	}
	f.caps["ofs-delta"] = f.caps["ofs-delta"] || true // v2 clients always read offset deltas
	var common []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for _, hv := range f.haves {
		if repo.Has(hv) && !seen[hv] {
			seen[hv] = true
			common = append(common, hv)
		}
	}
	if !f.done {
		pw.linef("acknowledgments\n")
		if len(common) == 0 {
			pw.linef("NAK\n")
		}
		for _, c := range common {
			pw.linef("ACK %s\n", c)
		}
		ready := len(common) > 0 && !f.caps["wait-for-done"] && w.readyToGiveUp(f.wants, seen)
		if !ready {
			pw.flush()
			return
		}
		pw.linef("ready\n")
		pw.delim()
	}
	var pl *plan
	if f.deepen() || len(f.shallows) > 0 {
		pw.linef("shallow-info\n")
		if f.deepen() {
			if pl, err = w.makePlan(f, common, f.caps["include-tag"]); err != nil {
				pw.linef("ERR %s\n", err)
				return
			}
			for _, s := range pl.shallow {
				pw.linef("shallow %s\n", s)
			}
			for _, s := range pl.unshallow {
				pw.linef("unshallow %s\n", s)
			}
		}
		pw.delim()
	}
	pw.linef("packfile\n")
	sb := &sideband{pw: pw, on: true, max: maxPktPayload, quiet: f.caps["no-progress"]}
	if err := h.sendPack(q, w, f, common, sb, pl); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		q.log.Warn("fetch", "err", err)
		sb.fatal(err.Error())
	}
	pw.flush()
}
