package server_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/internal/abuse"
)

// TestSlowLargeFramesCostLittle: 1,000 streams from a stranger, each
// announcing a 16 MiB frame on the device link and then stalling, cost the
// clone less than 64 MB of heap (the Hello is read under a 4 KiB cap: they
// are reset at once); so do 1,000 that announce just under the cap and
// stall until the Hello deadline (a frame's buffer grows only with the
// bytes that arrive).
// Afterwards a device edit still reaches the other clone, also after the
// device server restarts.
func TestSlowLargeFramesCostLittle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 3, 10*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond)
		seq := w.sequencer()
		a, b := w.clone(), w.clone()
		d := w.n.NewDoc(seq, a, b)
		e := w.enroll(a, "phone")
		evil := w.n.AddPeer(nil, nil)
		t.Cleanup(evil.Close)

		_, dc := w.device(e)
		edit := func(text string) {
			t.Helper()
			ectx, ecancel := context.WithTimeout(context.Background(), time.Minute)
			defer ecancel()
			doc, err := dc.Open(ectx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := doc.EditFunc(insertAt(0, text)); err != nil {
				t.Fatal(err)
			}
			if err := doc.WaitSynced(ectx); err != nil {
				t.Fatal(err)
			}
			for {
				s, err := b.Svc.Text(d.ID)
				if err == nil && strings.Contains(s, text) {
					break
				}
				if ectx.Err() != nil {
					t.Fatalf("the device's edit %q did not reach the other clone", text)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		edit("before the attack ")
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		// Over the Hello cap the clone resets at once; under it, the stream
		// is held until the Hello deadline with at most the cap buffered.
		for _, announce := range []uint64{16 << 20, link.MaxHelloFrame - 8} {
			before := heap()
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			done := make(chan abuse.Result)
			go func() { done <- abuse.SlowFrames(ctx, evil.H, a.Info(), 1000, announce) }()
			time.Sleep(6 * time.Second) // the streams are open and stalled (the Hello deadline is 10 s)
			held := heap()
			r := <-done
			cancel()
			t.Logf("announcing %d bytes: %+v; heap %d MB before, %d MB while held", announce, r, before>>20, held>>20)
			// QUIC lets one connection hold at most 256 streams open at
			// once, so of the held ones only that many open.
			if r.Opened < 250 {
				t.Fatalf("only %d of 1000 streams opened: the attack did not run", r.Opened)
			}
			if held > before && held-before > 64<<20 {
				t.Fatalf("heap grew by %d MB while 1,000 slow streams were held", (held-before)>>20)
			}
		}
		edit("after the attack ")
		e.srv.Close()
		srv, err := server.New(a.H, a.Svc, e.cert, server.WithLogger(w.n.Log))
		if err != nil {
			t.Fatalf("device server restart: %v", err)
		}
		defer srv.Close()
		// The old server ended the session: the device reconnects.
		doc, err := dc.Open(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for doc.Online() {
			time.Sleep(10 * time.Millisecond)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := doc.Connect(cctx); err != nil {
			t.Fatalf("reconnect after the device server restart: %v", err)
		}
		edit("after the restart ")
	})
}
