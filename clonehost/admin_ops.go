package clonehost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/clone2clone/c2c/clonehost/bundle"
)

// adminRoutes adds the lifecycle and migration calls of the admin socket
// (AdminSocket lists them).
func (h *Host) adminRoutes(mux *http.ServeMux) {
	op := func(f func(ctx context.Context, name string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := f(r.Context(), r.PathValue("name")); err != nil {
				adminError(w, err)
				return
			}
			writeJSON(w, struct{}{})
		}
	}
	mux.HandleFunc("POST /clones/{name}/enrol", op(h.Enrol))
	mux.HandleFunc("POST /clones/{name}/start", op(h.Start))
	mux.HandleFunc("POST /clones/{name}/stop", op(func(_ context.Context, name string) error { return h.Stop(name) }))
	mux.HandleFunc("DELETE /clones/{name}", op(h.Remove))
	mux.HandleFunc("GET /clones/{name}/export", func(w http.ResponseWriter, r *http.Request) {
		// A failure once bytes went out cannot change the status: the
		// stream then ends without its end frame, and an import refuses it.
		cw := &countingWriter{w: w}
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := h.Export(r.Context(), r.PathValue("name"), cw); err != nil {
			if cw.n == 0 {
				adminError(w, err)
				return
			}
			h.log.Warn("export cut short", "clone", r.PathValue("name"), "err", err)
		}
	})
	mux.HandleFunc("POST /clones/{name}/import", func(w http.ResponseWriter, r *http.Request) {
		lim := bundle.DefaultLimits()
		body := http.MaxBytesReader(w, r.Body, lim.MaxBytes+int64(len(bundle.Magic))+64)
		if err := h.Import(r.Context(), r.PathValue("name"), body, lim); err != nil {
			adminError(w, err)
			return
		}
		writeJSON(w, struct{}{})
	})
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// adminError answers err with the status that says what kind it is.
func adminError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknown):
		code = http.StatusNotFound
	case errors.Is(err, ErrExists), errors.Is(err, ErrRunning), errors.Is(err, ErrBusy):
		code = http.StatusConflict
	case errors.Is(err, ErrFull):
		code = http.StatusInsufficientStorage
	case errors.Is(err, ErrName), errors.Is(err, ErrImport):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

// Enrol asks the host to start hosting the clone enrolled in
// <clones dir>/name.
func (c *AdminClient) Enrol(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/clones/"+url.PathEscape(name)+"/enrol", nil, &struct{}{})
}

// Start starts the stopped clone name.
func (c *AdminClient) Start(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/clones/"+url.PathEscape(name)+"/start", nil, &struct{}{})
}

// Stop stops clone name.
func (c *AdminClient) Stop(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/clones/"+url.PathEscape(name)+"/stop", nil, &struct{}{})
}

// Remove deletes the stopped clone name and its data.
func (c *AdminClient) Remove(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/clones/"+url.PathEscape(name), nil, &struct{}{})
}

// Export stops clone name and copies its export to w; it returns the
// bytes written.
func (c *AdminClient) Export(ctx context.Context, name string, w io.Writer) (int64, error) {
	resp, err := c.send(ctx, http.MethodGet, "/clones/"+url.PathEscape(name)+"/export", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("clonehost: export %s: %w", name, err)
	}
	return n, nil
}

// Import sends the export read from r to the host, to run as clone name.
func (c *AdminClient) Import(ctx context.Context, name string, r io.Reader) error {
	resp, err := c.send(ctx, http.MethodPost, "/clones/"+url.PathEscape(name)+"/import", r)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
