package gitsmart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"rewire/storage"
	"rewire/storage/gitstore"
)

// receiveCaps are the receive-pack capabilities. Clients may send thin
// packs, whose deltas name objects the repository holds; gitstore completes
// them with those bases before storing.
const receiveCaps = "report-status report-status-v2 delete-refs side-band-64k quiet atomic ofs-delta " +
	"push-options object-format=sha1 agent=" + agent

func advertiseReceive(pw *pktWriter, repo *gitstore.Repo) {
	first := true
	if repo != nil {
		for _, ref := range repo.Refs {
			if first {
				pw.linef("%s %s\x00%s\n", ref.Hash, ref.Name, receiveCaps)
				first = false
			} else {
				pw.linef("%s %s\n", ref.Hash, ref.Name)
			}
		}
	}
	if first {
		pw.linef("%s capabilities^{}\x00%s\n", plumbing.ZeroHash, receiveCaps)
	}
	pw.flush()
}

func (h *handler) receivePack(q *request) {
	body, err := q.body()
	if err != nil {
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return
	}
	defer body.Close()
	pr := newPktReader(body)
	req, err := parsePush(pr)
	if err != nil {
		q.log.Warn("bad receive-pack request", "err", err)
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return
	}
	base, err := gitstore.Open(q.ctx, q.t, q.repo)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		q.log.Error("open repository", "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	if base != nil {
		defer base.Close()
	}

	// Receive and check the pack before answering anything.
	needPack := false
	for _, c := range req.cmds {
		if c.new != plumbing.ZeroHash {
			needPack = true
		}
	}
	var in *gitstore.Incoming
	var unpackErr error
	if needPack {
		in, unpackErr = gitstore.ReadPack(q.ctx, q.t, base, body)
		if unpackErr != nil {
			q.log.Warn("push refused", "err", unpackErr)
		}
	}
	cmds := make([]gitstore.Command, len(req.cmds))
	for i, c := range req.cmds {
		cmds[i] = gitstore.Command{Name: c.name, Old: c.old, New: c.new}
	}
	results := make([]error, len(cmds))
	if unpackErr == nil {
		results, err = h.apply(q.ctx, q, base, in, cmds, req.caps["atomic"])
		if err != nil {
			q.log.Error("apply push", "err", err)
			unpackErr = err
		}
	}

	q.start("application/x-git-receive-pack-result")
	pw := &pktWriter{w: q.w}
	sb := &sideband{pw: pw, quiet: req.caps["quiet"]}
	if req.caps["side-band-64k"] {
		sb.on, sb.max = true, maxPktPayload
	}
	if in != nil && unpackErr == nil {
		sb.progress("rewire: stored %d objects\n", in.Objects())
	}
	if req.caps["report-status"] || req.caps["report-status-v2"] {
		var rep bytes.Buffer
		rw := &pktWriter{w: &rep}
		if unpackErr != nil {
			rw.linef("unpack %s\n", oneLine(unpackErr.Error()))
		} else {
			rw.linef("unpack ok\n")
		}
		for i, c := range cmds {
			switch {
			case unpackErr != nil:
				rw.linef("ng %s unpacker error\n", c.Name)
			case results[i] != nil:
				rw.linef("ng %s %s\n", c.Name, oneLine(strings.TrimPrefix(results[i].Error(), "rejected: ")))
			default:
				rw.linef("ok %s\n", c.Name)
			}
		}
		rw.flush()
		if sb.on {
			sb.Write(rep.Bytes())
		} else {
			pw.special(rep.String())
		}
	}
	if in != nil && unpackErr == nil && in.Objects() > 0 {
		h.autoRepack(q, sb)
	}
	if sb.on {
		pw.flush()
	}
	if pw.err != nil {
		q.log.Warn("write receive-pack result", "err", pw.err)
	}
}

// autoRepackPacks is the number of stored packs at which a push merges a
// repository's packs into one, as git's receive-pack runs gc --auto: the
// client has its report and waits for the end of the response.
var autoRepackPacks = 32

func (h *handler) autoRepack(q *request, sb *sideband) {
	n, err := gitstore.Repack(q.ctx, q.t, q.repo, autoRepackPacks)
	if err != nil {
		q.log.Error("repack", "err", err)
		return
	}
	if n > 0 {
		sb.progress("rewire: merged %d packs\n", n)
		q.log.Info("repacked", "packs", n)
	}
}

func (h *handler) apply(ctx context.Context, q *request, base *gitstore.Repo, in *gitstore.Incoming,
	cmds []gitstore.Command, atomic bool) ([]error, error) {
	view, err := gitstore.View(ctx, q.t, base, in)
	if err != nil {
		in.Discard(context.WithoutCancel(ctx))
		return nil, err
	}
	defer view.Close()
	// Apply once the push is received: a client that goes away now does not
	// undo a push that is about to become durable.
	res, err := gitstore.Apply(context.WithoutCancel(ctx), q.t, q.repo, in, cmds, view.ObjectType, atomic)
	if err != nil {
		return nil, fmt.Errorf("apply push: %w", err)
	}
	for i, c := range cmds {
		if res[i] == nil {
			q.log.Debug("ref updated", "ref", c.Name, "old", c.Old.String()[:12], "new", c.New.String()[:12])
		}
	}
	return res, nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
