package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDownloadCLIProcesses: real processes (provider, clone, phone
// commands) and a loopback HTTP source that cuts its first two bodies:
// c2c device download --when wifi --wait has the clone fetch (resuming
// after each cut), scan and cache the file; the phone does not pull it
// off Wi-Fi; c2c device conditions --wifi pulls it, verified, to the
// phone's downloads dir; a 404 is reported as failed.
func TestDownloadCLIProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	data := make([]byte, 2<<20+999)
	_, _ = rand.Read(data)
	var mu sync.Mutex
	requests := 0
	stallSrc := &stallSource{gate: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/files/stall.bin" {
			stallSrc.serve(w, r, data)
			return
		}
		if r.URL.Path != "/files/big.bin" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		w.Header().Set("ETag", `"big"`)
		if n <= 2 { // cut mid-body
			http.ServeContent(&cutWriter{ResponseWriter: w, left: 400_000 * n}, r, "big.bin", time.Time{}, bytes.NewReader(data))
			return
		}
		http.ServeContent(w, r, "big.bin", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	defer stallSrc.open() // before srv.Close, which waits for the stalled handler

	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 60 * time.Second
	run := func(args ...string) (string, error) {
		t.Helper()
		out, errOut, err := runC2C(bin, nil, args...)
		return out + errOut, err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("c2c %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	user := field(must("keygen", "--data", filepath.Join(root, "user")), "user ID")
	pDir := filepath.Join(root, "p")
	p := startProc(t, bin, "provider", nil, "provider", "--data", pDir, "--listen", loopback)
	waitFile(t, p, filepath.Join(pDir, readyFile), ready)
	boot := strings.Fields(waitFile(t, p, filepath.Join(pDir, addrsFile), ready))[0]
	cloneDir := filepath.Join(root, "clone")
	must("enroll", "--key", filepath.Join(root, "user", "user.key"), "--device", "phone", "--clone-data", cloneDir)
	c := startProc(t, bin, "clone", nil, "clone", "--data", cloneDir, "--listen", loopback, "--bootstrap", boot, "--download-allow-private")
	waitFile(t, c, filepath.Join(cloneDir, readyFile), ready)
	phone := filepath.Join(root, "phone")
	must("device", "connect", "--data", phone, "--provider", boot, "--user", user,
		"--name", "phone", "--key", filepath.Join(root, "user", "devices", "phone.key"))

	out := must("device", "download", "--data", phone, srv.URL+"/files/big.bin", "--when", "wifi", "--wait")
	if !strings.Contains(out, "cached by the clone: 2098151 bytes") || !strings.Contains(out, "clean") || !strings.Contains(out, "not pulled yet: policy wifi") {
		t.Fatalf("download --wait:\n%s", out)
	}
	mu.Lock()
	if requests != 3 {
		t.Errorf("%d requests for two cuts, want 3", requests)
	}
	mu.Unlock()
	if out := must("device", "downloads", "--data", phone); !strings.Contains(out, "cached") || !strings.Contains(out, "wifi") {
		t.Fatalf("downloads:\n%s", out)
	}
	out = must("device", "conditions", "--data", phone, "--wifi")
	if !strings.Contains(out, "conditions: wifi=true") || !strings.Contains(out, "verified, saved to") {
		t.Fatalf("conditions --wifi:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(phone, "downloads", "big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the saved download: %v", err)
	}
	if out := must("device", "downloads", "--data", phone); !strings.Contains(out, "pulled") {
		t.Fatalf("downloads after the pull:\n%s", out)
	}
	out, err = run("device", "download", "--data", phone, srv.URL+"/missing", "--wait")
	if err == nil || !strings.Contains(out, "failed on the clone") || !strings.Contains(out, "404") {
		t.Fatalf("a 404: %v\n%s", err, out)
	}
	if out, err := run("device", "download", "--data", phone, "ftp://example.com/x"); err == nil || !strings.Contains(out, "only http and https") {
		t.Fatalf("ftp: %v\n%s", err, out)
	}

	// kill -9 of the clone mid-download: the source sends 1 MiB and stalls;
	// once c2c device downloads shows the clone kept that megabyte, the
	// clone is killed and restarted, and it resumes from the megabyte.
	out = must("device", "download", "--data", phone, srv.URL+"/files/stall.bin", "--when", "manual")
	id := strings.Fields(out)[1]
	for deadline := time.Now().Add(60 * time.Second); ; {
		if out := must("device", "downloads", "--data", phone); strings.Contains(out, "1048576/2098151") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the clone did not keep the first megabyte in 60 s")
		}
	}
	c.kill(t)
	stallSrc.open()
	_ = os.Remove(filepath.Join(cloneDir, readyFile)) // left by the killed clone
	c = startProc(t, bin, "clone-restarted", nil, "clone", "--data", cloneDir, "--listen", loopback, "--bootstrap", boot, "--download-allow-private")
	waitFile(t, c, filepath.Join(cloneDir, readyFile), ready)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if out := must("device", "downloads", "--data", phone); strings.Contains(out, id+"  cached") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restarted clone did not cache the download in 60 s")
		}
	}
	if ranges := stallSrc.after(); len(ranges) == 0 || ranges[len(ranges)-1] != "bytes=1048576-" {
		t.Fatalf("requests after the first: %q, want the last to resume at the megabyte kept", ranges)
	}
	if out := must("device", "downloads", "--data", phone, "--pull-id", id); !strings.Contains(out, "verified") {
		t.Fatalf("pull by hand:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(phone, "downloads", "stall.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the download resumed across the kill -9: %v", err)
	}
}

// stallSource serves 1 MiB of its first response and stalls until open;
// later requests are served whole (with Range support).
type stallSource struct {
	gate   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	ranges []string
}

func (s *stallSource) open() { s.once.Do(func() { close(s.gate) }) }

func (s *stallSource) after() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges[1:]...)
}

func (s *stallSource) serve(w http.ResponseWriter, r *http.Request, data []byte) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	first := len(s.ranges) == 1
	s.mu.Unlock()
	w.Header().Set("ETag", `"stall"`)
	if first {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		_, _ = w.Write(data[:1<<20])
		w.(http.Flusher).Flush()
		<-s.gate
		return
	}
	<-s.gate
	http.ServeContent(w, r, "stall.bin", time.Time{}, bytes.NewReader(data))
}

// cutWriter cuts the response after left body bytes.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		_, _ = c.ResponseWriter.Write(p[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}
