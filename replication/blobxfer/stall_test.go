package blobxfer_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
)

// failedLog signals each "transfer failed" the server logs.
type failedLog struct{ ch chan struct{} }

func (h failedLog) Enabled(context.Context, slog.Level) bool { return true }
func (h failedLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "transfer failed") {
		h.ch <- struct{}{}
	}
	return nil
}
func (h failedLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h failedLog) WithGroup(string) slog.Handler      { return h }

// TestPullerThatStopsReading: a device asks for 8 MB of blocks and reads
// none of them. The server's writes block once the stream's window is
// full; its write deadline ends the transfer instead of holding the
// goroutine for as long as the connection lives.
func TestPullerThatStopsReading(t *testing.T) {
	params := blobxfer.DefaultParams()
	params.IdleTimeout = 200 * time.Millisecond
	failed := failedLog{ch: make(chan struct{}, 4)}
	p := newPair(t, blobxfer.WithParams(params), blobxfer.WithLogger(slog.New(failed)))
	ref, err := p.cloneStore.Add(content(7, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := boxostore.HashOf(ref.CID)
	root, _ := p.cloneStore.Get(h)
	leaves, err := boxostore.Links(ref.CID, root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.device.NewStream(context.Background(), p.clone.ID(), blobxfer.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	for _, m := range []*blobxfer.Msg{
		{Kind: blobxfer.KindHello, Mode: blobxfer.ModeGet, Ref: ref},
		{Kind: blobxfer.KindWant, Want: leaves},
	} {
		if _, err := bounded.WriteFrame(st, m.Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-failed.ch:
	case <-time.After(time.Minute): // a guard against a hang, not a measurement
		t.Fatal("the server still writes to a puller that reads nothing")
	}
	s := p.srv.Stats()
	if s.Failed != 1 || s.BlocksOut >= len(leaves) {
		t.Fatalf("stats %+v: want one failed transfer with fewer than %d blocks out", s, len(leaves))
	}
}
