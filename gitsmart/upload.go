package gitsmart

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"rewire/storage/gitstore"
)

// uploadCaps are the protocol v0/v1 upload-pack capabilities.
const uploadCaps = "multi_ack multi_ack_detailed no-done thin-pack side-band side-band-64k ofs-delta " +
	"shallow deepen-since deepen-not deepen-relative no-progress include-tag " +
	"allow-tip-sha1-in-want allow-reachable-sha1-in-want filter object-format=sha1 agent=" + agent

// advertiseUpload writes the v0 ref advertisement: HEAD first when it
// resolves, then every ref in order, each annotated tag followed by its
// peeled value.
func advertiseUpload(pw *pktWriter, repo *gitstore.Repo) {
	caps := uploadCaps
	head, headOK := repo.Ref(repo.Head)
	if headOK {
		caps = "symref=HEAD:" + repo.Head + " " + caps
	}
	first := true
	emit := func(h plumbing.Hash, name string) {
		if first {
			pw.linef("%s %s\x00%s\n", h, name, caps)
			first = false
			return
		}
		pw.linef("%s %s\n", h, name)
	}
	if headOK {
		emit(head, "HEAD")
	}
	w := newWalker(repo)
	for _, ref := range repo.Refs {
		emit(ref.Hash, ref.Name)
		if strings.HasPrefix(ref.Name, "refs/tags/") {
			if t, _, tags, err := w.peel(ref.Hash); err == nil && len(tags) > 0 {
				pw.linef("%s %s^{}\n", t, ref.Name)
			}
		}
	}
	if first {
		pw.linef("%s capabilities^{}\x00%s\n", plumbing.ZeroHash, caps)
	}
	pw.flush()
}

func (h *handler) uploadPack(q *request) {
	body, err := q.body()
	if err != nil {
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return
	}
	defer body.Close()
	repo, ok := q.openRepo()
	if !ok {
		return
	}
	defer repo.Close()
	if q.v2 {
		h.serveV2(q, repo, body)
		return
	}
	f, err := parseUploadV0(io.LimitReader(body, maxRequestBytes))
	if err != nil {
		q.log.Warn("bad upload-pack request", "err", err)
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return
	}
	q.start("application/x-git-upload-pack-result")
	bw := bufio.NewWriterSize(q.w, 64<<10)
	defer bw.Flush()
	pw := &pktWriter{w: bw}
	w := newWalker(repo)
	if err := checkWants(w, f.wants); err != nil {
		pw.linef("ERR %s\n", err)
		return
	}
	if _, err := parseFilter(f.filter); err != nil {
		pw.linef("ERR %s\n", err)
		return
	}

	// Shallow update first, as upload-pack does for a deepening request.
	var pl *plan
	if f.deepen() {
		var common []plumbing.Hash
		for _, h := range f.haves {
			if repo.Has(h) {
				common = append(common, h)
			}
		}
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
		pw.flush()
	}

	if f.sawEOF && len(f.haves) == 0 {
		return // a deepening client's first request: the shallow update alone
	}

	// Negotiation over the haves of this round.
	detailed := f.caps["multi_ack_detailed"]
	multi := detailed || f.caps["multi_ack"]
	var common []plumbing.Hash
	commonSet := make(map[plumbing.Hash]bool)
	var last plumbing.Hash
	sentReady := false
	for _, have := range f.haves {
		if !repo.Has(have) {
			if multi && len(common) > 0 && !sentReady && w.readyToGiveUp(f.wants, commonSet) {
				if detailed {
					pw.linef("ACK %s ready\n", have)
					sentReady = true
				} else {
					pw.linef("ACK %s continue\n", have)
				}
			}
			continue
		}
		if commonSet[have] {
			continue
		}
		commonSet[have] = true
		common = append(common, have)
		last = have
		switch {
		case detailed:
			pw.linef("ACK %s common\n", have)
		case multi:
			pw.linef("ACK %s continue\n", have)
		case len(common) == 1:
			pw.linef("ACK %s\n", have)
		}
	}
	if !f.done {
		if detailed && len(common) > 0 && !sentReady && w.readyToGiveUp(f.wants, commonSet) {
			pw.linef("ACK %s ready\n", last)
			sentReady = true
		}
		if len(common) == 0 || multi {
			pw.linef("NAK\n")
		}
		if !(f.caps["no-done"] && sentReady) {
			return // the client sends another round
		}
		pw.linef("ACK %s\n", last)
	} else if len(common) > 0 {
		if multi {
			pw.linef("ACK %s\n", last)
		}
	} else {
		pw.linef("NAK\n")
	}

	sb := &sideband{pw: pw, quiet: f.caps["no-progress"]}
	switch {
	case f.caps["side-band-64k"]:
		sb.on, sb.max = true, maxPktPayload
	case f.caps["side-band"]:
		sb.on, sb.max = true, 1000
	}
	if err := h.sendPack(q, w, f, common, sb, pl); err != nil {
		q.log.Warn("upload-pack", "err", err)
		sb.fatal(err.Error())
	}
	if sb.on {
		pw.flush()
	}
}

// checkWants refuses wants the repository does not hold. Any object of
// the repository may be wanted (allow-reachable-sha1-in-want is answered
// generously: the repository holds no unreachable objects of another
// tenant or repository).
func checkWants(w *walker, wants []plumbing.Hash) error {
	if len(wants) == 0 {
		return fmt.Errorf("no wants")
	}
	for _, h := range wants {
		if !w.repo.Has(h) {
			return fmt.Errorf("upload-pack: not our ref %s", h)
		}
	}
	return nil
}

// readyToGiveUp reports whether every want reaches a common commit within
// a bounded walk, so that more haves would not shrink the pack much.
func (w *walker) readyToGiveUp(wants []plumbing.Hash, common map[plumbing.Hash]bool) bool {
	for _, want := range wants {
		found := false
		queue := []plumbing.Hash{want}
		seen := map[plumbing.Hash]bool{}
		for len(queue) > 0 && len(seen) < 2000 && !found {
			h := queue[0]
			queue = queue[1:]
			if seen[h] {
				continue
			}
			seen[h] = true
			if common[h] {
				found = true
				break
			}
			c, err := w.commit(h)
			if err != nil {
				return false
			}
			queue = append(queue, c.parents...)
		}
		if !found {
			return false
		}
	}
	return true
}

// sendPack computes (unless pl is given) and streams the pack.
func (h *handler) sendPack(q *request, w *walker, f *fetchReq, common []plumbing.Hash, sb *sideband, pl *plan) error {
	if len(common) == 0 && len(f.shallows) == 0 && !f.deepen() && f.filter == "" && wantsAll(w.repo, f.wants) {
		if ok, err := reusePacks(w.repo, f, sb); ok || err != nil {
			return err
		}
	}
	if pl == nil {
		sb.progress("Enumerating objects\r")
		var err error
		if pl, err = w.makePlan(f, common, f.caps["include-tag"]); err != nil {
			return err
		}
	}
	sb.progress("Enumerating objects: %d, done.\n", len(pl.objects))
	opts := gitstore.PackOptions{OfsDelta: f.caps["ofs-delta"], Deltas: &gitstore.DeltaOptions{Name: w.name}}
	// A client that filters (a partial clone) may lack the blobs of the
	// trees it holds, so it gets no deltas on them.
	if f.caps["thin-pack"] && f.filter == "" && len(pl.clientHas) > 0 {
		opts.Has = func(h plumbing.Hash) bool { return pl.clientHas[h] }
		for h := range pl.clientHas {
			opts.Deltas.Bases = append(opts.Deltas.Bases, h)
		}
	}
	st, err := w.repo.WritePackWith(sb, pl.objects, opts)
	if err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	q.log.Debug("sent pack", "objects", st.Objects, "commits", pl.commits,
		"reused_deltas", st.Reused, "computed_deltas", st.Computed, "whole", st.Whole, "delta_tries", st.Tried)
	return nil
}

// wantsAll reports whether the wants cover every branch and tag tip.
func wantsAll(repo *gitstore.Repo, wants []plumbing.Hash) bool {
	set := make(map[plumbing.Hash]bool, len(wants))
	for _, h := range wants {
		set[h] = true
	}
	for _, r := range repo.Refs {
		if !set[r.Hash] {
			return false
		}
	}
	return len(repo.Refs) > 0
}

// reusePacks streams every stored pack of the repository as one pack,
// without decoding objects: object entries keep their bytes, and offset
// deltas stay valid because they point backwards within the entries of
// their own pack, which are copied in one piece. An object that an older
// pack already holds is left out of a newer one only when it is a whole
// object at the end of that pack (the bases appended to a completed thin
// push), so that nothing after it moves; reference deltas on it resolve
// to the older copy. It declines (false) for any other duplicate, and when
// the client cannot read offset deltas.
func reusePacks(repo *gitstore.Repo, f *fetchReq, sb *sideband) (bool, error) {
	if !f.caps["ofs-delta"] || len(repo.Packs) == 0 {
		return false, nil
	}
	spans, total, ok, err := reuseSpans(repo)
	if !ok || err != nil {
		return false, err
	}
	if total > 1<<32-1 {
		return false, nil
	}
	sb.progress("Reusing %d objects from %d stored packs\n", total, len(repo.Packs))
	sum := sha1.New()
	out := io.MultiWriter(sb, sum)
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(total))
	if _, err := out.Write(hdr[:]); err != nil {
		return true, err
	}
	for _, sp := range spans {
		if err := copyEntries(out, sp.path, sp.end); err != nil {
			return true, err
		}
	}
	_, err = sb.Write(sum.Sum(nil))
	return true, err
}

// span is the part of a stored pack file that reusePacks copies: from
// the end of the header to end.
type span struct {
	path string
	end  int64
}

// reuseSpans plans reusePacks: the spans to copy, oldest pack first, and
// the number of objects in them; ok is false when the packs cannot be
// concatenated.
func reuseSpans(repo *gitstore.Repo) (spans []span, total int64, ok bool, err error) {
	seen := make(map[plumbing.Hash]bool)
	for i := len(repo.Packs) - 1; i >= 0; i-- {
		p := repo.Packs[i]
		it, err := p.Index.EntriesByOffset()
		if err != nil {
			return nil, 0, false, err
		}
		var list []packEntry
		for {
			e, err := it.Next()
			if err != nil {
				break
			}
			list = append(list, packEntry{e.Hash, int64(e.Offset)})
		}
		it.Close()

		keep := len(list)
		for keep > 0 && seen[list[keep-1].h] {
			keep--
		}
		for _, e := range list[:keep] {
			if seen[e.h] {
				return nil, 0, false, nil
			}
		}
		end := p.Size - 20
		if keep < len(list) {
			end = list[keep].off
			if whole, err := wholeEntries(p.Path, list[keep:]); !whole || err != nil {
				return nil, 0, false, err
			}
		}
		for _, e := range list[:keep] {
			seen[e.h] = true
		}
		total += int64(keep)
		spans = append(spans, span{p.Path, end})
	}
	return spans, total, true, nil
}

// packEntry is an object's offset in a stored pack.
type packEntry struct {
	h   plumbing.Hash
	off int64
}

// wholeEntries reports whether the entries of a pack file are whole
// objects rather than deltas.
func wholeEntries(path string, list []packEntry) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reuse pack: %w", err)
	}
	defer f.Close()
	var b [1]byte
	for _, e := range list {
		if _, err := f.ReadAt(b[:], e.off); err != nil {
			return false, fmt.Errorf("reuse pack: %w", err)
		}
		if t := (b[0] >> 4) & 7; t < 1 || t > 4 {
			return false, nil
		}
	}
	return true, nil
}

// copyEntries copies a pack file from the end of its header to end.
func copyEntries(w io.Writer, path string, end int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reuse pack: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if end < 12 || end > st.Size()-20 {
		return fmt.Errorf("reuse pack: %s shorter than its index says", path)
	}
	_, err = io.Copy(w, io.NewSectionReader(f, 12, end-12))
	return err
}
