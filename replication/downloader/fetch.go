package downloader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// spool keeps a download's bytes and progress durably.
type spool interface {
	// Restart drops every byte kept and records p (Offset 0).
	Restart(p Progress) error
	// Append keeps data, the bytes just before next.Offset, and records
	// next, both or neither.
	Append(data []byte, next Progress) error
}

// newClient returns the HTTP client of downloads: connect, TLS and header
// timeouts, at most p.MaxRedirects redirects, http and https only, no
// transparent decompression (offsets are the file's), and unless
// p.AllowPrivate no connection to an address that is not public (publicAddr).
func newClient(p Params) *http.Client {
	d := &net.Dialer{Timeout: p.ConnectTimeout}
	if !p.AllowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrPrivate, address)
			}
			// The address connected to, after DNS and every redirect: a
			// name that rebinds to a private address is refused here.
			if ip := ap.Addr(); !publicAddr(ip) {
				return fmt.Errorf("%w: %s", ErrPrivate, ip)
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    p.ConnectTimeout,
		ResponseHeaderTimeout:  p.HeaderTimeout,
		IdleConnTimeout:        p.IdleTimeout,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    2,
		MaxResponseHeaderBytes: 64 << 10, // a stranger's headers: a small budget
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > p.MaxRedirects {
			return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, p.MaxRedirects)
		}
		return checkScheme(req.URL)
	}}
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %q", ErrScheme, u.Scheme)
	}
	return nil
}

// fetchOnce makes one request for rawURL continuing from p, keeps what it
// receives in sp as it arrives (every p.FlushBytes), and returns the
// progress it reached. A transfer cut before the end is ErrInterrupted
// (with the progress kept so far); a refusal is one of the other errors.
func fetchOnce(ctx context.Context, c *http.Client, params Params, rawURL string, p Progress, sp spool, seen func(Progress)) (Progress, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrScheme, err)
	}
	if err := checkScheme(u); err != nil {
		return p, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return p, err
	}
	req.Header = p.Header()
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, ErrScheme) || errors.Is(err, ErrTooManyRedirects) || errors.Is(err, ErrPrivate) {
			return p, err
		}
		return p, fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	defer resp.Body.Close()
	next, err := Decide(p, ResponseOf(resp), params.MaxBytes)
	if err != nil {
		if errors.Is(err, ErrStatus) && Retryable(resp.StatusCode) {
			return p, fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
		return p, err
	}
	if next.Offset != p.Offset || p.Offset == 0 {
		if err := sp.Restart(next); err != nil {
			return p, err
		}
	}
	p = next
	seen(p)
	// The idle timeout: no byte for IdleTimeout cancels the request.
	idle := time.AfterFunc(params.IdleTimeout, func() { cancel(fmt.Errorf("no data for %v", params.IdleTimeout)) })
	defer idle.Stop()
	buf := make([]byte, 0, params.FlushBytes)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		off, err := p.Accept(len(buf), params.MaxBytes)
		if err != nil {
			return err
		}
		n := p
		n.Offset = off
		if err := sp.Append(buf, n); err != nil {
			return err
		}
		p, buf = n, buf[:0]
		seen(p)
		return nil
	}
	for {
		n, rerr := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			idle.Reset(params.IdleTimeout)
			// Refuse as soon as the limit is passed, not at the next flush.
			if _, err := p.Accept(len(buf), params.MaxBytes); err != nil {
				return p, err
			}
		}
		if len(buf) == cap(buf) || rerr != nil {
			if err := flush(); err != nil {
				return p, err
			}
		}
		if rerr == io.EOF {
			if !p.Complete() {
				return p, fmt.Errorf("%w: body ended at %d of %d", ErrInterrupted, p.Offset, p.Total)
			}
			return p, nil
		}
		if rerr != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				rerr = cause
			}
			return p, fmt.Errorf("%w: at %d: %w", ErrInterrupted, p.Offset, rerr)
		}
	}
}
