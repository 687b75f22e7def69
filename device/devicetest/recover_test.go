package devicetest_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// A device attached to a clone whose document the sequencer forks: the
// fork alarm ends the device's session; the admin's clone recovers the
// document onto its standby by itself (the device's clone is on the
// forked branch and rolls back); then, with nothing done by the user (the
// app only reconnects the dropped link), the device holds the recovered
// text and its next edit reaches both clones exactly once.
func TestDeviceAfterRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		var vmu sync.Mutex
		victims := map[docsync.MemberID]bool{}
		seqA := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
			sb := sequencer.NewByzantine(doc, key, sequencer.Equivocate, 8)
			sb.Victims = func(m docsync.MemberID) bool { vmu.Lock(); defer vmu.Unlock(); return victims[m] }
			return seqtest.Observe(sb)
		}))
		standby := n.AddSequencer()
		params := cloneservice.DefaultParams()
		params.StallAfter = 5 * time.Second
		admin := n.AddClone(cloneservice.WithParams(params), cloneservice.WithStandby(standby.Info()))
		phoneClone := n.AddClone(cloneservice.WithParams(params))
		vmu.Lock()
		victims[phoneClone.Svc.ID()] = true
		vmu.Unlock()
		d := n.NewDoc(seqA, admin, phoneClone)
		_, dev := devicetest.Attach(t, n, phoneClone, "phone")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		doc, err := dev.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		appendText := func(s string) func(int) ([]ot.Op, error) {
			return func(n int) ([]ot.Op, error) {
				op, err := ot.FromPatch(n, n, 0, s)
				return []ot.Op{op}, err
			}
		}
		if err := doc.EditFunc(appendText("<phone before>")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		// The device's app reconnects a dropped link every second, as
		// c2c device web does after a link error (it stops retrying only
		// on a refusal, counted here: the clone does not refuse a device
		// of a stopped document, it serves the text as it stands).
		var refusals atomic.Int32
		var lastRefusal atomic.Value
		go func() {
			for ctx.Err() == nil {
				if !doc.Online() {
					cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
					if err := doc.Connect(cctx); errors.Is(err, client.ErrRefused) {
						refusals.Add(1)
						lastRefusal.Store(err.Error())
					}
					ccancel()
				}
				time.Sleep(time.Second)
			}
		}()
		// Both clones edit until the fork is found and the admin's clone
		// recovered the document onto the standby, and both follow.
		recovered := func() bool {
			for _, c := range []*netsim.Clone{admin, phoneClone} {
				in, err := c.Svc.Info(d.ID)
				if err != nil || in.Sequencer != standby.H.ID() || in.Halted != nil || len(in.Recovered) == 0 {
					return false
				}
			}
			return true
		}
		i := 0
		netsim.WaitUntil(t, 2*time.Minute, "the document recovered onto the standby on both clones", func() bool {
			for _, c := range []*netsim.Clone{admin, phoneClone} {
				i++
				ectx, ecancel := context.WithTimeout(ctx, time.Second)
				_ = c.Svc.EditFunc(ectx, d.ID, appendText(fmt.Sprintf("<%d>", i)))
				ecancel()
			}
			return recovered()
		})
		if st := phoneClone.Svc.Stats(); st.Rollbacks == 0 {
			t.Fatal("the phone's clone did not roll back: it was not on the forked branch")
		}
		d.Seq = standby // convergence is on the standby's head now
		d.WaitConverged(time.Minute)
		want, err := phoneClone.Svc.Text(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatalf("the device does not get the recovered text: %q, clone %q: %v", doc.Text(), want, err)
		}
		// The device edits again, with nothing done by the user.
		if err := doc.EditFunc(appendText("<phone after>")); err != nil {
			t.Fatalf("the device edits after the recovery: %v", err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatalf("the device's edit after the recovery: %v", err)
		}
		d.WaitConverged(time.Minute)
		text, _ := admin.Svc.Text(d.ID)
		if strings.Count(text, "<phone after>") != 1 {
			t.Fatalf("the device's edit after the recovery is in the admin's text %d times: %q", strings.Count(text, "<phone after>"), text)
		}
		if err := doc.WaitText(ctx, func(s string) bool { return s == text }); err != nil {
			t.Fatalf("device text %q, clones %q: %v", doc.Text(), text, err)
		}
		t.Logf("device text after the recovery matches both clones (%d code points; its edit before the fork kept: %v); %d reconnects refused while stopped (last: %v)",
			len([]rune(text)), strings.Contains(text, "<phone before>"), refusals.Load(), lastRefusal.Load())
	})
}
