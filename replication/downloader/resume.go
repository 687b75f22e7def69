package downloader

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Errors. A download that fails with one of these is relayed to the device
// as failed, with the error as its reason; ErrInterrupted is retried.
var (
	// ErrScheme: a URL or a redirect to a scheme other than http and https.
	ErrScheme = errors.New("downloader: only http and https URLs")
	// ErrTooManyRedirects: more redirects than Params.MaxRedirects.
	ErrTooManyRedirects = errors.New("downloader: too many redirects")
	// ErrTooLarge: a file larger than Params.MaxBytes (announced or received).
	ErrTooLarge = errors.New("downloader: file too large")
	// ErrLength: the server's lengths disagree (Content-Length, Content-Range,
	// the size it announced before, the bytes it sent).
	ErrLength = errors.New("downloader: length mismatch")
	// ErrStatus: an HTTP status that is not a success.
	ErrStatus = errors.New("downloader: HTTP error")
	// ErrInterrupted: the transfer stopped before the end; it resumes.
	ErrInterrupted = errors.New("downloader: interrupted")
	// ErrTooSlow: the download did not finish within Params.MaxDuration.
	ErrTooSlow = errors.New("downloader: too slow")
	// ErrPrivate: a connection (to the URL's host or a redirect's) would
	// go to an address that is not public (publicAddr), which the clone
	// does not fetch from unless allowed.
	ErrPrivate = errors.New("downloader: private address")
)

// Progress is what is durable of one download: the bytes kept so far and
// what identifies the representation they came from. It is the pure core
// of resuming: Header says what the next request asks for, Decide what to
// make of the answer.
type Progress struct {
	Offset       uint64 // bytes kept
	Total        int64  // the file's size as the server announced it; -1 unknown
	ETag         string // a strong entity tag, if the server sent one
	LastModified string
}

// Fresh is the progress of a download not begun.
func Fresh() Progress { return Progress{Total: -1} }

// CanResume reports whether a Range request can continue from Offset: only
// with a validator for If-Range, so that a changed file restarts instead
// of being spliced from two versions.
func (p Progress) CanResume() bool {
	return p.Offset > 0 && (p.ETag != "" || p.LastModified != "")
}

// Header returns the headers of the next request: a Range from Offset with
// If-Range (the ETag, else Last-Modified) when it can resume.
func (p Progress) Header() http.Header {
	h := http.Header{}
	h.Set("Accept-Encoding", "identity") // byte offsets are those of the file
	if p.CanResume() {
		h.Set("Range", fmt.Sprintf("bytes=%d-", p.Offset))
		if p.ETag != "" {
			h.Set("If-Range", p.ETag)
		} else {
			h.Set("If-Range", p.LastModified)
		}
	}
	return h
}

// Response is what Decide needs of an HTTP response.
type Response struct {
	Status        int
	ContentLength int64 // -1 unknown
	ContentRange  string
	ETag          string
	LastModified  string
}

// ResponseOf extracts a Response.
func ResponseOf(r *http.Response) Response {
	return Response{Status: r.StatusCode, ContentLength: r.ContentLength, ContentRange: r.Header.Get("Content-Range"),
		ETag: r.Header.Get("ETag"), LastModified: r.Header.Get("Last-Modified")}
}

// Decide returns the progress to continue from given the answer to
// p.Header()'s request: p itself for a 206 that continues at p.Offset, a
// fresh start (Offset 0, the new validators) for a 200 (the server ignored
// the Range, or the file changed), or an error. max caps the file's size.
func Decide(p Progress, r Response, max uint64) (Progress, error) {
	switch r.Status {
	case http.StatusOK:
		n := Progress{Total: r.ContentLength, LastModified: r.LastModified}
		if strongETag(r.ETag) {
			n.ETag = r.ETag
		}
		if n.Total > 0 && uint64(n.Total) > max {
			return p, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, n.Total, max)
		}
		return n, nil
	case http.StatusPartialContent:
		if !p.CanResume() {
			return p, fmt.Errorf("%w: 206 to a request without a Range", ErrStatus)
		}
		first, last, total, err := parseContentRange(r.ContentRange)
		if err != nil {
			return p, err
		}
		switch {
		case first != p.Offset:
			return p, fmt.Errorf("%w: range starts at %d, asked %d", ErrLength, first, p.Offset)
		case total >= 0 && uint64(total) > max:
			return p, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, total, max)
		case total >= 0 && p.Total >= 0 && total != p.Total:
			return p, fmt.Errorf("%w: size %d announced, %d before", ErrLength, total, p.Total)
		case total >= 0 && last+1 != uint64(total):
			return p, fmt.Errorf("%w: range ends at %d of %d", ErrLength, last, total)
		case r.ContentLength >= 0 && uint64(r.ContentLength) != last-first+1:
			return p, fmt.Errorf("%w: Content-Length %d for range %d-%d", ErrLength, r.ContentLength, first, last)
		case p.ETag != "" && r.ETag != "" && r.ETag != p.ETag:
			return p, fmt.Errorf("%w: 206 of another entity (%s, asked %s)", ErrLength, r.ETag, p.ETag)
		}
		if p.Total < 0 {
			p.Total = total
		}
		return p, nil
	}
	return p, fmt.Errorf("%w: %d %s", ErrStatus, r.Status, http.StatusText(r.Status))
}

// Retryable reports whether an HTTP status is worth asking again later.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// strongETag: If-Range needs a strong validator.
func strongETag(e string) bool { return len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' }

// parseContentRange reads "bytes first-last/total" (total may be "*": -1).
func parseContentRange(s string) (first, last uint64, total int64, err error) {
	bad := fmt.Errorf("%w: Content-Range %q", ErrLength, s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	span, tot, ok := strings.Cut(rest, "/")
	a, b, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 {
		return 0, 0, 0, bad
	}
	if first, err = strconv.ParseUint(a, 10, 63); err != nil {
		return 0, 0, 0, bad
	}
	if last, err = strconv.ParseUint(b, 10, 63); err != nil || last < first {
		return 0, 0, 0, bad
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
			return 0, 0, 0, bad
		}
	}
	return first, last, total, nil
}

// Accept checks n more bytes received against the limit and the size the
// server announced; it returns the new offset.
func (p Progress) Accept(n int, max uint64) (uint64, error) {
	off := p.Offset + uint64(n)
	if off > max {
		return p.Offset, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	if p.Total >= 0 && off > uint64(p.Total) {
		return p.Offset, fmt.Errorf("%w: more than the %d bytes announced", ErrLength, p.Total)
	}
	return off, nil
}

// Complete reports whether a body that ended cleanly at Offset is the
// whole file (an unknown size is complete at the end of the body).
func (p Progress) Complete() bool { return p.Total < 0 || p.Offset == uint64(p.Total) }
