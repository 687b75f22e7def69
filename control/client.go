package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
)

// Client talks to a clone's control socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client of the socket at path. It does not connect
// until the first call.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression: true,
	}
	return &Client{path: path, http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, p string, in, out any) error {
	resp, err := c.send(ctx, method, p, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: decode reply: %v", ErrFailed, err)
	}
	return nil
}

// send performs a request and returns the response if its status is 200;
// otherwise it returns the server's error as a sentinel.
func (c *Client) send(ctx context.Context, method, p string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://clone"+p, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: no clone listens on %s (is `c2c clone` running with this data dir?)", ErrNotRunning, c.path)
		}
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: %s: permission denied (only the clone's owner may use it)", ErrNotRunning, c.path)
		}
		return nil, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var eb errorBody
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&eb); err != nil {
		return nil, fmt.Errorf("%w: HTTP %s", ErrFailed, resp.Status)
	}
	sentinel := ErrFailed
	switch eb.Code {
	case codeBadRequest:
		sentinel = ErrBadRequest
	case codeUnknownDoc:
		sentinel = ErrUnknownDoc
	case codeHalted:
		sentinel = ErrHalted
	}
	return nil, &remoteError{sentinel: sentinel, msg: eb.Error}
}

// remoteError is an error the server reported: Is matches its sentinel,
// Error is the server's text.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func docPath(doc string, rest string) string { return "/v1/docs/" + url.PathEscape(doc) + rest }

// Status returns the clone's identity and counters.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Docs lists the tracked documents.
func (c *Client) Docs(ctx context.Context) ([]string, error) {
	l, err := c.DocList(ctx)
	return l.Docs, err
}

// DocList lists the tracked documents and those that could not be opened.
func (c *Client) DocList(ctx context.Context) (DocList, error) {
	var out DocList
	return out, c.do(ctx, http.MethodGet, "/v1/docs", nil, &out)
}

// Forget removes a document and everything the clone kept of it.
func (c *Client) Forget(ctx context.Context, doc string) error {
	return c.do(ctx, http.MethodDelete, docPath(doc, ""), nil, nil)
}

// Create makes a document ordered by sequencer (a /p2p multiaddr or a peer ID).
func (c *Client) Create(ctx context.Context, sequencer string) (string, error) {
	var out CreateResult
	err := c.do(ctx, http.MethodPost, "/v1/docs", CreateRequest{Sequencer: sequencer}, &out)
	return out.Doc, err
}

// Show returns the document's state and text.
func (c *Client) Show(ctx context.Context, doc string) (DocInfo, error) {
	var out DocInfo
	return out, c.do(ctx, http.MethodGet, docPath(doc, ""), nil, &out)
}

// Members lists the document's members.
func (c *Client) Members(ctx context.Context, doc string) ([]MemberInfo, error) {
	var out []MemberInfo
	return out, c.do(ctx, http.MethodGet, docPath(doc, "/members"), nil, &out)
}

// Invite adds the clone of (user, device) with role (reader, writer, admin).
func (c *Client) Invite(ctx context.Context, doc, user, device, role string) (InviteResult, error) {
	var out InviteResult
	return out, c.do(ctx, http.MethodPost, docPath(doc, "/invite"), InviteRequest{User: user, Device: device, Role: role}, &out)
}

// Remove removes a member (MemberID hex or clone peer ID).
func (c *Client) Remove(ctx context.Context, doc, member string) error {
	return c.do(ctx, http.MethodPost, docPath(doc, "/remove"), RemoveRequest{Member: member}, nil)
}

// Edit applies an edit; it returns once the edit is durable on the clone.
func (c *Client) Edit(ctx context.Context, doc string, req EditRequest) (EditResult, error) {
	var out EditResult
	return out, c.do(ctx, http.MethodPost, docPath(doc, "/edit"), req, &out)
}

// Log returns committed entries from..to (0: from 1, to the head).
func (c *Client) Log(ctx context.Context, doc string, from, to uint64) ([]LogEntry, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatUint(from, 10))
	}
	if to > 0 {
		q.Set("to", strconv.FormatUint(to, 10))
	}
	p := docPath(doc, "/log")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out []LogEntry
	return out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// Evidence returns the evidence the clone keeps against the document's
// sequencer (none: an empty list).
func (c *Client) Evidence(ctx context.Context, doc string) ([]EvidenceItem, error) {
	var out []EvidenceItem
	return out, c.do(ctx, http.MethodGet, docPath(doc, "/evidence"), nil, &out)
}

// Watch calls f for each event of the document until ctx ends, f returns
// false, or the clone closes the stream. The current alarms (fork,
// misbehaviour, stalled) come first.
func (c *Client) Watch(ctx context.Context, doc string, f func(Event) bool) error {
	resp, err := c.send(ctx, http.MethodGet, docPath(doc, "/events"), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("%w: event: %v", ErrFailed, err)
		}
		if !f(ev) {
			return nil
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: event stream: %v", ErrFailed, err)
	}
	return ctx.Err()
}
