package downloader_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloader"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/clone2clone/c2c/replication/scan"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// memMirror is the Mirror edge in memory: the downloads app replaying the
// device's requests, and the network inputs relayed to it.
type memMirror struct {
	mu      sync.Mutex
	set     *replication.AppSet
	seq     uint64
	relayed chan *downloads.Cached
}

func newMirror(t *testing.T, store *boxostore.Store) *memMirror {
	reg := replication.NewRegistry()
	if err := downloads.Register(reg, store); err != nil {
		t.Fatal(err)
	}
	set, err := replication.NewAppSet(reg, downloads.Name)
	if err != nil {
		t.Fatal(err)
	}
	return &memMirror{set: set, relayed: make(chan *downloads.Cached, 16)}
}

func (m *memMirror) app() *downloads.App {
	a, _ := m.set.App(downloads.Name)
	return a.(*downloads.App)
}

func (m *memMirror) apply(t *testing.T, src replication.Source, p []byte) []replication.Output {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	outs, err := m.app().Apply(&replication.Event{Source: src, Epoch: 1, Seq: m.seq, Time: replication.Time(m.seq), Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// request replays "download url" and tells the downloader, as the mirror
// service's observer would; it returns the download's ID.
func (m *memMirror) request(t *testing.T, dl *downloader.Service, url string) [32]byte {
	t.Helper()
	outs := m.apply(t, replication.User, downloads.Request(url, downloads.Now))
	dl.Outputs([]replication.AppOutput{{App: downloads.Name, Outputs: outs}})
	return [32]byte(outs[0].Data)
}

func (m *memMirror) Relay(_ context.Context, app string, payload []byte) error {
	c, err := downloads.UnmarshalCached(payload)
	if err != nil || app != downloads.Name {
		return fmt.Errorf("relay to %s: %v", app, err)
	}
	m.relayed <- c
	return nil
}

func (m *memMirror) View(_ context.Context, f func(*replication.AppSet)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.set)
	return nil
}

// next returns the next relayed input (bounded wait: a hung download fails).
func (m *memMirror) next(t *testing.T) *downloads.Cached {
	t.Helper()
	select {
	case c := <-m.relayed:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("nothing relayed in 30 s")
		return nil
	}
}

func testParams() downloader.Params {
	p := downloader.DefaultParams()
	p.AllowPrivate = true // httptest listens on loopback
	p.RetryMin, p.RetryMax = time.Millisecond, 10*time.Millisecond
	p.MaxBytes = 8 << 20
	return p
}

type rig struct {
	ds     datastore.Batching
	store  *boxostore.Store
	mirror *memMirror
	dl     *downloader.Service
}

func newRig(t *testing.T, ds datastore.Batching, p downloader.Params) *rig {
	t.Helper()
	if ds == nil {
		ds = dssync.MutexWrap(datastore.NewMapDatastore())
	}
	store := boxostore.New(ds)
	db, err := scan.NewDB(1)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := downloader.New(ds, store, downloader.EngineScanner{Engine: scan.NewEngine(db, scan.NewCache(64))}, downloader.WithParams(p), downloader.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{ds: ds, store: store, mirror: newMirror(t, store), dl: dl}
	dl.Start(r.mirror)
	t.Cleanup(func() { _ = dl.Close() })
	return r
}

func content(n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(b)
	return b
}

// source serves data with an ETag and Range support (http.ServeContent),
// cutting the connection after cuts[i] body bytes of the i-th request.
type source struct {
	data []byte
	etag string
	cuts []int

	mu     sync.Mutex
	ranges []string // the Range header of every request
	served int      // body bytes written
}

func (s *source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := len(s.ranges)
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	etag, data := s.etag, s.data
	s.mu.Unlock()
	cut := -1
	if i < len(s.cuts) {
		cut = s.cuts[i]
	}
	w.Header().Set("ETag", etag)
	http.ServeContent(&cutter{ResponseWriter: w, s: s, left: cut}, r, "f.bin", time.Unix(1700000000, 0), bytes.NewReader(data))
}

type cutter struct {
	http.ResponseWriter
	s    *source
	left int // bytes before the cut; -1 none
}

func (c *cutter) Write(p []byte) (int, error) {
	if c.left >= 0 && len(p) > c.left {
		p = p[:c.left]
		n, _ := c.ResponseWriter.Write(p)
		c.ResponseWriter.(http.Flusher).Flush()
		c.s.count(n)
		panic(http.ErrAbortHandler) // the connection is cut mid-body
	}
	if c.left >= 0 {
		c.left -= len(p)
	}
	n, err := c.ResponseWriter.Write(p)
	c.s.count(n)
	return n, err
}

func (s *source) count(n int) {
	s.mu.Lock()
	s.served += n
	s.mu.Unlock()
}

// TestResumeAfterThreeCuts is the HTTP half of the must-show test: the
// source cuts the body three times at different offsets; the clone
// resumes each time with a validated Range from what it kept, and the
// file it caches is the source's, byte for byte, fetched about once.
func TestResumeAfterThreeCuts(t *testing.T) {
	data := content(3<<20 + 12345)
	src := &source{data: data, etag: `"v1"`, cuts: []int{300_000, 1_000_000, 700_001}}
	srv := httptest.NewServer(src)
	defer srv.Close()
	r := newRig(t, nil, testParams())
	id := r.mirror.request(t, r.dl, srv.URL+"/f.bin")
	c := r.mirror.next(t)
	if c.Failed() || c.ID != id || c.Try != 1 {
		t.Fatalf("relayed %+v", c)
	}
	if c.Ref.SHA256 != sha256.Sum256(data) || c.Ref.Size != uint64(len(data)) || c.Verdict.Infected {
		t.Fatalf("cached ref %+v", c.Ref)
	}
	got, err := r.store.Read(c.Ref)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cached content: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.ranges) != 4 || src.ranges[0] != "" {
		t.Fatalf("requests' ranges %q", src.ranges)
	}
	prev := 0
	for _, rg := range src.ranges[1:] {
		var off int
		if _, err := fmt.Sscanf(rg, "bytes=%d-", &off); err != nil || off <= prev {
			t.Fatalf("ranges %q do not resume forward", src.ranges)
		}
		prev = off
	}
	if src.served != len(data) {
		t.Fatalf("the source served %d bytes for a file of %d: a resume re-fetched bytes", src.served, len(data))
	}
	if rep, ok := r.dl.Progress(id); !ok || rep.State != downloader.StateCached || rep.Attempts != 4 || rep.Done != int64(len(data)) {
		t.Fatalf("report %+v", rep)
	}
	if st := r.dl.Stats(); st != (downloader.Stats{Started: 1, Requests: 4, Resumed: 3, Bytes: uint64(len(data)), Cached: 1, Relayed: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

// TestChangedFileRestarts: the file changes between a cut and the resume
// (a new ETag): If-Range makes the server send the whole new file, and
// the clone keeps that, never a splice of the two.
func TestChangedFileRestarts(t *testing.T) {
	old, new := content(1<<20), bytes.Repeat([]byte("new version "), 90000)
	src := &source{data: old, etag: `"v1"`, cuts: []int{400_000}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() { // after the first request, cut or not
			src.mu.Lock()
			src.data, src.etag = new, `"v2"`
			src.mu.Unlock()
		}()
		src.ServeHTTP(w, req)
	}))
	defer srv.Close()
	r := newRig(t, nil, testParams())
	r.mirror.request(t, r.dl, srv.URL)
	c := r.mirror.next(t)
	if c.Failed() || c.Ref.SHA256 != sha256.Sum256(new) {
		t.Fatalf("relayed %+v", c)
	}
	if len(src.ranges) != 2 || !strings.HasPrefix(src.ranges[1], "bytes=") {
		t.Fatalf("ranges %q", src.ranges)
	}
}

// TestNoRangeSupportRestarts: a server that ignores Range is fetched again
// from zero after a cut.
func TestNoRangeSupportRestarts(t *testing.T) {
	data := content(600_000)
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		w.Header().Set("ETag", `"x"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if n == 1 {
			_, _ = w.Write(data[:200_000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	r := newRig(t, nil, testParams())
	r.mirror.request(t, r.dl, srv.URL)
	if c := r.mirror.next(t); c.Failed() || c.Ref.SHA256 != sha256.Sum256(data) {
		t.Fatalf("relayed %+v", c)
	}
	if st := r.dl.Stats(); st.Requests != 2 || st.Restarted != 1 || st.Resumed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLimits: each refusal fails the download with its own error, relayed
// to the device as the reason.
func TestLimits(t *testing.T) {
	p := testParams()
	p.MaxBytes = 100_000
	p.MaxRedirects = 3
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100001")
		_, _ = w.Write(make([]byte, 100_001))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, _ *http.Request) {
		for range 20 {
			_, _ = w.Write(make([]byte, 10_000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
	})
	mux.HandleFunc("/missing", http.NotFound)
	// A server whose lengths disagree: the 200 announces 50,000 bytes and is
	// cut; the 206 then says the file is 60,000.
	mux.HandleFunc("/liar", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"l"`)
		if r.Header.Get("Range") == "" {
			w.Header().Set("Content-Length", "50000")
			_, _ = w.Write(make([]byte, 20_000))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Range", "bytes 20000-59999/60000")
		w.Header().Set("Content-Length", "40000")
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(make([]byte, 40_000))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]error{
		"/big":         downloader.ErrTooLarge,
		"/big-chunked": downloader.ErrTooLarge,
		"/loop":        downloader.ErrTooManyRedirects,
		"/ftp":         downloader.ErrScheme,
		"/missing":     downloader.ErrStatus,
		"/liar":        downloader.ErrLength,
	} {
		r := newRig(t, nil, p)
		r.mirror.request(t, r.dl, srv.URL+path)
		c := r.mirror.next(t)
		if !c.Failed() || !strings.Contains(c.Reason, strings.TrimPrefix(want.Error(), "downloader: ")) {
			t.Errorf("%s: relayed %+v, want %v", path, c, want)
		}
	}
	// Loopback is refused unless allowed.
	r := newRig(t, nil, downloader.DefaultParams())
	r.mirror.request(t, r.dl, srv.URL+"/missing")
	if c := r.mirror.next(t); !c.Failed() || !strings.Contains(c.Reason, "private address") {
		t.Errorf("loopback: %+v", c)
	}
}

// TestEICARIsFlagged: the in-process scanner marks a downloaded EICAR.
func TestEICARIsFlagged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(append([]byte("prefix "), scan.EICAR()...))
	}))
	defer srv.Close()
	r := newRig(t, nil, testParams())
	r.mirror.request(t, r.dl, srv.URL)
	if c := r.mirror.next(t); c.Failed() || !c.Verdict.Infected || c.Verdict.DBVersion != 1 {
		t.Fatalf("relayed %+v", c)
	}
}

// TestResumeAfterCrash: the clone is killed (its datastore copied as a
// kill -9 leaves it) while the source stalls mid-body; the next run on
// that copy resumes with a Range from the bytes the first kept.
func TestResumeAfterCrash(t *testing.T) {
	data := content(2 << 20)
	stall := make(chan struct{})
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		ranges = append(ranges, req.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		w.Header().Set("ETag", `"c"`)
		if first {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			_, _ = w.Write(data[:1<<20])
			w.(http.Flusher).Flush()
			<-stall
			return
		}
		http.ServeContent(w, req, "f", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	defer close(stall) // before srv.Close, which waits for the stalled handler
	dir := t.TempDir()
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ds.Close() }) // after the service's Close
	r := newRig(t, ds, testParams())
	id := r.mirror.request(t, r.dl, srv.URL)
	// Wait (bounded) until the first megabyte is kept: four 256 KiB flushes.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if rep, _ := r.dl.Progress(id); rep.Done == 1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first megabyte was not kept in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	crashed := netsim.CopyDir(t, dir)
	ds2, err := pebbleds.NewDatastore(crashed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ds2.Close() })
	r2 := newRig(t, ds2, testParams())
	if got := r2.mirror.request(t, r2.dl, srv.URL); got != id {
		t.Fatal("the replayed request has another ID")
	}
	c := r2.mirror.next(t)
	if c.Failed() || c.Ref.SHA256 != sha256.Sum256(data) {
		t.Fatalf("relayed %+v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) != 2 || ranges[1] != fmt.Sprintf("bytes=%d-", 1<<20) {
		t.Fatalf("ranges %q: the restarted clone did not resume from the megabyte it kept", ranges)
	}
}

// TestTimeouts: a server that never sends its headers, or stalls mid-body,
// is cut by the header or idle timeout and the download resumes on the
// next request; one that always stalls fails after MaxAttempts requests
// in a row without a byte.
func TestTimeouts(t *testing.T) {
	data := content(300_000)
	stall := make(chan struct{})
	var mu sync.Mutex
	var ranges []string
	mux := http.NewServeMux()
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, "headers:"+r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if first {
			<-stall // no headers, ever
			return
		}
		w.Header().Set("ETag", `"t"`)
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
	})
	idleCalls := 0
	mux.HandleFunc("/idle", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, "idle:"+r.Header.Get("Range"))
		idleCalls++
		first := idleCalls == 1
		mu.Unlock()
		w.Header().Set("ETag", `"t"`)
		if first {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			_, _ = w.Write(data[:100_000])
			w.(http.Flusher).Flush()
			<-stall // the body stops mid-way
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
	})
	mux.HandleFunc("/never", func(http.ResponseWriter, *http.Request) { <-stall })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(stall) // before srv.Close, which waits for the stalled handlers
	p := testParams()
	p.HeaderTimeout, p.IdleTimeout, p.FlushBytes, p.MaxAttempts = 300*time.Millisecond, 300*time.Millisecond, 50_000, 3
	for _, path := range []string{"/headers", "/idle"} {
		r := newRig(t, nil, p)
		r.mirror.request(t, r.dl, srv.URL+path)
		if c := r.mirror.next(t); c.Failed() || c.Ref.SHA256 != sha256.Sum256(data) {
			t.Fatalf("%s: relayed %+v", path, c)
		}
	}
	// Under load a later request may be cut again; what must hold: the
	// header timeout kept nothing, so the next request asks for no range,
	// and the idle cut resumes from the 100,000 bytes kept.
	mu.Lock()
	var headers, idle []string
	for _, r := range ranges {
		if rest, ok := strings.CutPrefix(r, "headers:"); ok {
			headers = append(headers, rest)
		} else {
			idle = append(idle, strings.TrimPrefix(r, "idle:"))
		}
	}
	if len(headers) < 2 || headers[1] != "" || len(idle) < 2 || idle[0] != "" || idle[1] != "bytes=100000-" {
		t.Errorf("requests %q", ranges)
	}
	mu.Unlock()
	r := newRig(t, nil, p)
	r.mirror.request(t, r.dl, srv.URL+"/never")
	if c := r.mirror.next(t); !c.Failed() || !strings.Contains(c.Reason, "3 attempts in a row") {
		t.Fatalf("never: relayed %+v", c)
	}
}

// TestTrickleFails: a server that sends a byte well inside the idle
// timeout, for ever, is not waited on for ever: past MaxDuration the
// download fails, with the bytes it kept said.
func TestTrickleFails(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"slow"`)
		w.Header().Set("Content-Length", "1000000")
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte{'.'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	defer close(stop)
	p := testParams()
	p.IdleTimeout, p.MaxDuration, p.FlushBytes = 5*time.Second, 400*time.Millisecond, 1
	r := newRig(t, nil, p)
	r.mirror.request(t, r.dl, srv.URL+"/slow")
	if c := r.mirror.next(t); !c.Failed() || !strings.Contains(c.Reason, "too slow") {
		t.Fatalf("relayed %+v, want a failure for being too slow", c)
	}
}
