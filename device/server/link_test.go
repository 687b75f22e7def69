package server_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
)

func insertAt(pos int, s string) func(int) ([]ot.Op, error) {
	return func(n int) ([]ot.Op, error) {
		op, err := ot.FromPatch(n, min(pos, n), 0, s)
		return []ot.Op{op}, err
	}
}

// A device edits through its clone; another clone's edits reach it.
func TestDeviceEditsThroughClone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 1, 10*time.Millisecond, 5*time.Millisecond, 40*time.Millisecond)
		seq := w.sequencer()
		a, b := w.clone(), w.clone()
		d := w.n.NewDoc(seq, a, b)
		e := w.enroll(a, "phone")
		dh, dc := w.device(e)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		doc, err := dc.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.EditFunc(insertAt(0, "hello")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		if err := b.Svc.EditFunc(ctx, d.ID, insertAt(1<<30, " world")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		want, _ := b.Svc.Text(d.ID)
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		if want != "hello world" {
			t.Fatalf("text %q", want)
		}
		// Clone mode: the device's only peer is its clone; it speaks only the
		// device link (and libp2p's own identify/ping), no DHT, no gossipsub.
		peers := dh.Network().Peers()
		if len(peers) != 1 || peers[0] != a.H.ID() {
			t.Fatalf("device peers %v, want only its clone %s", peers, a.H.ID())
		}
		forbidden := []string{"/meshsub", "/floodsub", "/randomsub", "/ipfs/kad", "/c2c/kad", "/c2c/doc", "/c2c/dir"}
		for _, p := range dh.Mux().Protocols() {
			for _, f := range forbidden {
				if strings.HasPrefix(string(p), f) {
					t.Fatalf("device serves %s", p)
				}
			}
		}
		for _, c := range dh.Network().Conns() {
			for _, st := range c.GetStreams() {
				for _, f := range forbidden {
					if strings.HasPrefix(string(st.Protocol()), f) {
						t.Fatalf("device stream on %s", st.Protocol())
					}
				}
			}
		}
	})
}

func TestRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, 10*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond)
		seq := w.sequencer()
		a, b := w.clone(), w.clone()
		d := w.n.NewDoc(seq, a, b)
		ea := w.enroll(a, "phone")
		eb := w.enroll(b, "phone")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		try := func(key *enrolled, as *enrolled, name string) error {
			h := w.deviceHost(key.devKey)
			c, err := client.New(h, ea.clone.Info(), as.user, name, client.WithLogger(w.n.Log))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Open(ctx, d.ID)
			return err
		}
		cases := []struct {
			name string
			err  error
			code link.RefuseCode
		}{
			// b's device key presented as a's user's phone: wrong key.
			{"wrong key", try(eb, ea, "phone"), link.RefuseWrongKey},
			// a's user, a device name nobody enrolled.
			{"unenrolled", try(ea, ea, "tablet"), link.RefuseUnenrolled},
			// b's user's device at a's clone.
			{"other user", try(eb, eb, "phone"), link.RefuseOtherUser},
		}
		for _, c := range cases {
			var ref *client.Refusal
			if !errors.Is(c.err, client.ErrRefused) || !errors.As(c.err, &ref) || ref.Code != c.code {
				t.Fatalf("%s: err = %v, want refusal code %d", c.name, c.err, c.code)
			}
		}
		// An unenrolled key (no certificate anywhere).
		stranger := &enrolled{devKey: netsim.NewKey(t), user: ea.user}
		if err := try(stranger, ea, "phone"); !errors.Is(err, client.ErrRefused) {
			t.Fatalf("unenrolled key: %v", err)
		}
		// The enrolled device still gets in.
		_, dc := w.device(ea)
		if _, err := dc.Open(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// The device goes offline while many edits land, then catches up with one
// bundle much smaller than the envelopes it missed; its offline edits merge.
func TestCatchUpBundle(t *testing.T) {
	n := 1000
	if !testing.Short() && !raceEnabled { // -race: the race detector makes 10,000 slow
		n = 10000
	}
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 3, 10*time.Millisecond, 5*time.Millisecond, 40*time.Millisecond)
		seq := w.sequencer()
		// a keeps its whole log: the test weighs the envelopes the
		// device missed against the bundle (compaction would delete them).
		keepAll := cloneservice.DefaultParams()
		keepAll.SnapshotEvery = 0
		a, b := w.clone(cloneservice.WithParams(keepAll)), w.clone()
		d := w.n.NewDoc(seq, a, b)
		e := w.enroll(a, "phone")
		_, dc := w.device(e)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		doc, err := dc.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.EditFunc(insertAt(0, "device text. ")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		from, _ := a.Svc.Info(d.ID)
		doc.Disconnect()
		if err := doc.EditFunc(insertAt(0, "[offline] ")); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 3))
		for range n {
			if err := b.Svc.EditFunc(ctx, d.ID, netsim.RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond) // let most edits commit alone
		}
		d.WaitConverged(time.Hour)
		to, _ := a.Svc.Info(d.ID)
		log, err := a.Svc.Log(d.ID, from.Seq+1, to.Seq)
		if err != nil {
			t.Fatal(err)
		}
		envBytes := 0
		for _, le := range log {
			envBytes += le.Size
		}
		before := doc.Stats()
		if err := doc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		after := doc.Stats()
		if got := after.Bundles - before.Bundles; got != 1 {
			t.Fatalf("%d bundles", got)
		}
		if after.Ops != before.Ops {
			t.Fatalf("%d ops streamed besides the bundle", after.Ops-before.Ops)
		}
		d.WaitConverged(time.Minute)
		want, _ := b.Svc.Text(d.ID)
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatal(err)
		}
		if !contains(want, "[offline] ") {
			t.Fatalf("offline edit lost: %q", want)
		}
		ratio := float64(envBytes) / float64(after.LastBundleBytes)
		t.Logf("%d missed entries (%d envelope body bytes) -> one bundle of %d bytes (snapshot %v): %.1fx smaller; text %d runes",
			len(log), envBytes, after.LastBundleBytes, after.LastBundleSnapshot, ratio, netsim.Runes(want))
		if ratio < 5 {
			t.Fatalf("bundle only %.1fx smaller than the missed envelopes", ratio)
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// The clone restarts while the device's edit is on the wire (never
// applied): with persisted counters the device is told, resends it once,
// and everything converges.
func TestCloneRestartWithEditInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 4, 10*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond)
		seq := w.sequencer()
		a, b := w.clone(), w.clone()
		d := w.n.NewDoc(seq, a, b)
		e := w.enroll(a, "phone")
		e.srv.Close() // the harness's server: replaced by one this test restarts
		srv1, err := server.New(a.H, a.Svc, e.cert, server.WithLogger(w.n.Log))
		if err != nil {
			t.Fatal(err)
		}
		_, dc := w.device(e)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		doc, err := dc.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.EditFunc(insertAt(0, "one ")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		// Sent, and the clone goes down before reading it.
		if err := doc.EditFunc(insertAt(1<<30, "two")); err != nil {
			t.Fatal(err)
		}
		srv1.Close()
		a.StopService()
		if !doc.Pending() {
			t.Fatal("the edit was acknowledged before the restart")
		}
		w.n.StartClone(a)
		srv2, err := server.New(a.H, a.Svc, e.cert, server.WithLogger(w.n.Log))
		if err != nil {
			t.Fatal(err)
		}
		defer srv2.Close()
		if err := b.Svc.EditFunc(ctx, d.ID, insertAt(0, "b: ")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		doc.Disconnect()
		if err := doc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		want, _ := b.Svc.Text(d.ID)
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"one ", "two", "b: "} {
			if strings.Count(want, part) != 1 || len(want) != len("one ")+len("two")+len("b: ") {
				t.Fatalf("text %q: want each edit once", want)
			}
		}
	})
}
