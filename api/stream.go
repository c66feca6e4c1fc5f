package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"rewire/api/wire"
	"rewire/storage/files"
)

// FilesPrefix is where the streaming file endpoints live: GET, HEAD, PUT,
// POST (append) and DELETE on /v1/files/<path>.
const FilesPrefix = "/v1/files/"

// MaxUpload bounds one streamed upload.
const MaxUpload = 64 << 30

// serveFiles answers the streaming endpoints for an authenticated tenant.
func (h *handler) serveFiles(w http.ResponseWriter, r *http.Request, tenant string, log *slog.Logger) {
	cp, err := CleanPath(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(FilesPrefix, "/")))
	if err != nil {
		httpError(w, err)
		return
	}
	t, err := h.store.Acquire(r.Context(), tenant)
	if err != nil {
		httpError(w, err)
		return
	}
	defer t.Release()
	o := NewOps(t)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = o.download(w, r, cp)
	case http.MethodPut:
		var size int64
		size, err = o.Upload(r.Context(), cp, r.Body, r.URL.Query().Get("parents") != "")
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "{\"path\":%q,\"size\":%d}\n", "/"+cp, size)
		}
	case http.MethodPost:
		var size int64
		size, err = o.AppendStream(r.Context(), cp, r.Body)
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, "{\"path\":%q,\"size\":%d}\n", "/"+cp, size)
		}
	case http.MethodDelete:
		if _, err = o.Delete(r.Context(), wire.DeleteParams{Path: cp, Recursive: r.URL.Query().Get("recursive") != ""}); err == nil {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		if ToError(err).Code == wire.CodeServerError {
			log.Warn("file transfer", "method", r.Method, "path", cp, "err", err)
		}
		httpError(w, err)
	}
}

// httpError writes err as an HTTP status and a JSON error object.
func httpError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = &wire.Error{Code: wire.CodeTooLarge, Message: err.Error()}
	}
	e := ToError(err)
	status := http.StatusInternalServerError
	switch e.Code {
	case wire.CodeNotFound:
		status = http.StatusNotFound
	case wire.CodeExists, wire.CodeInvalidOp:
		status = http.StatusConflict
	case wire.CodeInvalidParams:
		status = http.StatusBadRequest
	case wire.CodeTooLarge:
		status = http.StatusRequestEntityTooLarge
	case wire.CodeOutOfRange:
		status = http.StatusRequestedRangeNotSatisfiable
	case wire.CodeForbidden:
		status = http.StatusForbidden
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	writeJSONBody(w, map[string]any{"error": e})
}

// fileReader reads a stored file at random, for http.ServeContent.
type fileReader struct {
	ctx context.Context
	fs  *files.FS
	ino uint64
}

func (f fileReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.fs.ReadAt(f.ctx, f.ino, p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// download serves a file with Range support, or a directory as JSON.
func (o *Ops) download(w http.ResponseWriter, r *http.Request, cp string) error {
	a, err := o.paths.Stat(r.Context(), cp)
	if err != nil {
		return pathErr(err, cp)
	}
	if a.IsDir() {
		l, err := o.List(r.Context(), wire.PathParams{Path: cp})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		writeJSONBody(w, l)
		return nil
	}
	if !a.IsRegular() {
		return pathErr(syscall.EINVAL, cp)
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%d-%d"`, a.Ino, a.Version))
	w.Header().Set("Accept-Ranges", "bytes")
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	rs := io.NewSectionReader(fileReader{ctx: r.Context(), fs: o.fs, ino: a.Ino}, 0, a.Size)
	http.ServeContent(w, r, path.Base(cp), a.Mtime, rs)
	return nil
}

// Upload stores the content of body at cp, reading it in chunks so that
// any size streams through bounded memory. The content goes to a hidden
// file next to cp first and replaces cp by rename when complete, so
// readers see the old or the new file, never a part.
func (o *Ops) Upload(ctx context.Context, cp string, body io.Reader, parents bool) (int64, error) {
	if cp == "" {
		return 0, pathErr(syscall.EISDIR, cp)
	}
	if parents {
		if err := o.mkdirAll(ctx, parentOf(cp)); err != nil {
			return 0, err
		}
	}
	if a, err := o.paths.Stat(ctx, cp); err == nil && a.IsDir() {
		return 0, pathErr(syscall.EISDIR, cp)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := path.Join(parentOf(cp), ".rewire-upload-"+hex.EncodeToString(rnd[:]))
	a, err := o.create(ctx, tmp)
	if err != nil {
		return 0, err
	}
	size, err := o.writeFrom(ctx, a, 0, body)
	if err == nil {
		err = o.paths.Rename(ctx, tmp, cp)
		if err != nil {
			err = pathErr(err, cp)
		}
	}
	if err != nil {
		o.paths.Remove(context.WithoutCancel(ctx), tmp)
		return 0, err
	}
	return size, nil
}

// AppendStream appends the content of body to the file at cp, creating it
// if needed.
func (o *Ops) AppendStream(ctx context.Context, cp string, body io.Reader) (int64, error) {
	a, err := o.paths.Stat(ctx, cp)
	if files.IsNotFound(err) {
		a, err = o.create(ctx, cp)
	}
	if err != nil {
		return 0, pathErr(err, cp)
	}
	if !a.IsRegular() {
		return 0, pathErr(syscall.EISDIR, cp)
	}
	return o.writeFrom(ctx, a, a.Size, body)
}

// writeFrom writes body into the file a from offset size (its current
// size, a multiple of nothing in particular), one chunk per transaction.
func (o *Ops) writeFrom(ctx context.Context, a files.Attr, size int64, body io.Reader) (int64, error) {
	body = io.LimitReader(body, MaxUpload-size+1)
	buf := make([]byte, files.ChunkSize)
	for {
		idx := size / files.ChunkSize
		in := int(size % files.ChunkSize)
		if in > 0 {
			if _, err := o.fs.ReadAt(ctx, a.Ino, buf[:in], idx*files.ChunkSize); err != nil {
				return 0, err
			}
		}
		n, err := io.ReadFull(body, buf[in:])
		if n > 0 {
			size += int64(n)
			if size > MaxUpload {
				return 0, &wire.Error{Code: wire.CodeTooLarge, Message: fmt.Sprintf("upload larger than %d bytes", int64(MaxUpload))}
			}
			chunk := []files.Chunk{{Idx: idx, Data: buf[:in+n]}}
			if werr := o.fs.WriteChunks(ctx, a.Ino, chunk, size, time.Now()); werr != nil {
				return 0, werr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return size, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read upload: %w", err)
		}
	}
}

var _ = strconv.Itoa
