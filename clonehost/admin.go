package clonehost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// AdminSocket, in the provider's data dir, is the operator's socket of a
// host (mode 0600 in a 0700 directory), HTTP with JSON:
//
//	GET    /clones               list (CloneInfo, running and stopped)
//	POST   /clones/NAME/enrol    start hosting <clones dir>/NAME (c2c enroll wrote it)
//	POST   /clones/NAME/stop     stop it; it stays stopped across restarts
//	POST   /clones/NAME/start    start it again, with its state
//	DELETE /clones/NAME          delete a stopped clone and its data
//	GET    /clones/NAME/export   stop it and stream its export (a bundle)
//	POST   /clones/NAME/import   verify the bundle in the body, persist it as NAME, start it
//	POST   /lookup               have one hosted clone look another up
//
// It has no call that reads or edits a document: those stay behind each
// clone's own control socket, for its owner. An export carries the
// clone's whole datastore as the provider's disk holds it, to the
// operator who holds that disk already.
const AdminSocket = "clonehost.sock"

// lookupTimeout bounds one admin lookup.
const lookupTimeout = 30 * time.Second

// CloneInfo is one hosted clone as the admin socket lists it. Conns,
// Docs, Devices and MemoryBytes are 0 for a stopped or sleeping clone.
type CloneInfo struct {
	Name      string `json:"name"`
	Peer      string `json:"peer"`
	User      string `json:"user"`
	Device    string `json:"device"`
	State     State  `json:"state"`
	Published bool   `json:"published"`
	Conns     int    `json:"conns"`
	Docs      int    `json:"docs"`
	// DormantDocs is how many of Docs nobody edited lately: the clone is
	// out of their topics' meshes (cloneservice's dormant.go).
	DormantDocs int `json:"dormant_docs"`
	// Devices is how many of the clone's devices are connected to it (the
	// owner certificate names one).
	Devices int `json:"devices"`
	// MemoryBytes is an estimate (MemoryModel), not a measurement: the
	// clones share one heap.
	MemoryBytes int64 `json:"memory_bytes"`
}

// LookupRequest asks hosted clone From to find User's Device.
type LookupRequest struct {
	From   string `json:"from"`
	User   string `json:"user"`
	Device string `json:"device"`
}

// LookupResult is what the lookup found.
type LookupResult struct {
	Clone string  `json:"clone"`
	Ms    float64 `json:"ms"`
}

// Info lists the hosted clones, running and stopped, sorted by name.
func (h *Host) Info() []CloneInfo {
	h.mu.Lock()
	entries := make([]entry, 0, len(h.entries))
	for _, e := range h.entries {
		entries = append(entries, *e)
	}
	h.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	out := make([]CloneInfo, 0, len(entries))
	for _, e := range entries {
		in := CloneInfo{Name: e.name, Peer: e.cert.Clone.String(), User: e.cert.User.String(), Device: e.cert.Device, State: Stopped}
		if e.asleep != nil { // published (it sleeps only once it is), no connection, no document
			in.State, in.Published = Asleep, true
		}
		if c := e.clone; c != nil {
			in.State = Running
			net := c.Node.Host().Network()
			in.Conns, in.Docs = len(net.Conns()), len(c.Services.Docs.Docs())
			in.DormantDocs = int(c.Services.Docs.Stats().Dormant)
			if net.Connectedness(e.cert.DeviceKey) == network.Connected {
				in.Devices = 1
			}
			in.MemoryBytes = DefaultMemoryModel().Estimate(in.Conns, in.Docs)
			select {
			case <-c.Node.Published():
				in.Published = true
			default:
			}
		}
		out = append(out, in)
	}
	return out
}

// Lookup has hosted clone from look up user's device through its own
// directory (its DHT, then the providers' replicas).
func (h *Host) Lookup(ctx context.Context, req LookupRequest) (LookupResult, error) {
	from, err := peer.Decode(req.From)
	if err != nil {
		return LookupResult{}, fmt.Errorf("clonehost: from: %w", err)
	}
	user, err := peer.Decode(req.User)
	if err != nil {
		return LookupResult{}, fmt.Errorf("clonehost: user: %w", err)
	}
	c := h.wakeID(from)
	if c == nil {
		return LookupResult{}, fmt.Errorf("clonehost: no hosted clone %s", from)
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	start := time.Now()
	cert, err := c.Node.Directory().Lookup(ctx, user, req.Device)
	if err != nil {
		return LookupResult{}, err
	}
	return LookupResult{Clone: cert.Clone.String(), Ms: float64(time.Since(start)) / float64(time.Millisecond)}, nil
}

// ServeAdmin serves the admin socket at path until ctx ends; the returned
// function stops it and removes the socket.
func (h *Host) ServeAdmin(ctx context.Context, path string) (func() error, error) {
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("clonehost: admin socket directory %s must exist with mode 0700", filepath.Dir(path))
	}
	_ = os.Remove(path) // a stale socket left by a killed process
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("clonehost: admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clones", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, h.Info()) })
	h.adminRoutes(mux)
	mux.HandleFunc("POST /lookup", func(w http.ResponseWriter, r *http.Request) {
		var req LookupRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := h.Lookup(r.Context(), req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		writeJSON(w, res)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("admin socket stopped", "err", err)
		}
	}()
	return func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-done
		_ = os.Remove(path)
		return err
	}, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// AdminClient talks to a host's admin socket.
type AdminClient struct{ http *http.Client }

// NewAdminClient returns a client of the admin socket at path.
func NewAdminClient(path string) *AdminClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}, MaxIdleConnsPerHost: 64}
	return &AdminClient{http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *AdminClient) Close() { c.http.CloseIdleConnections() }

// Clones lists the hosted clones.
func (c *AdminClient) Clones(ctx context.Context) ([]CloneInfo, error) {
	var out []CloneInfo
	return out, c.do(ctx, http.MethodGet, "/clones", nil, &out)
}

// Lookup asks hosted clone req.From to find a clone.
func (c *AdminClient) Lookup(ctx context.Context, req LookupRequest) (LookupResult, error) {
	var out LookupResult
	return out, c.do(ctx, http.MethodPost, "/lookup", req, &out)
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// send makes one call and turns a status other than 200 into an error
// carrying the host's message.
func (c *AdminClient) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://clonehost"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("clonehost: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return resp, nil
}
