package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestPprofServes checks that --pprof serves the
// profiling index, and stops with its context.
func TestPprofServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := ServePprof(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("GET /debug/pprof/: %s\n%s", resp.Status, body)
	}
	cancel()
	if _, err := ServePprof(context.Background(), "not an address", slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("ServePprof accepted a bad address")
	}
}
