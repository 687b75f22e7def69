package netsim

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
)

// TestForkProofPerSequencer: a document forked by sequencer A recovers
// onto the standby B (also Byzantine), and B forks it too, later. The
// admin's clone keeps both fork proofs, one per sequencer key, each
// verifying against its sequencer; after a restart from the datastore
// (what kill -9 leaves) it still keeps both, a tampered copy of either is
// refused, and a datastore with A's proof at the single /fork key older
// versions wrote restores it beside B's.
func TestForkProofPerSequencer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 10*time.Millisecond)
		var victims victimSet
		seqA := n.AddSequencer(victims.byzantine(sequencer.Equivocate, 8, nil))
		seqB := n.AddSequencer(victims.byzantine(sequencer.Equivocate, 40, nil))
		params := cloneservice.DefaultParams()
		params.StallAfter = stallAfter
		clones := addAdminAndVictims(n, params, seqB, &victims)
		d := n.NewDoc(seqA, clones...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, stopWriters := startTokenWriters(ctx, t, d.ID, clones, false)
		defer stopWriters()

		keyOf := func(s *Sequencer) []byte {
			raw, err := s.H.ID().ExtractPublicKey()
			if err != nil {
				t.Fatal(err)
			}
			b, err := raw.Raw()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		keyA, keyB := keyOf(seqA), keyOf(seqB)
		admin := clones[0]
		bothKept := func(c *Clone) bool {
			evs, err := c.Svc.Evidence(d.ID)
			if err != nil {
				return false
			}
			var a, b bool
			for _, ev := range evs {
				a = a || ev.Kind == docsync.EvidenceFork && bytes.Equal(ev.Sequencer, keyA)
				b = b || ev.Kind == docsync.EvidenceFork && bytes.Equal(ev.Sequencer, keyB)
			}
			return a && b
		}
		WaitUntil(t, 3*time.Minute, "the admin's clone keeps fork proofs against A and B", func() bool { return bothKept(admin) })
		in, err := admin.Svc.Info(d.ID)
		if err != nil || in.Sequencer != seqB.H.ID() || in.Halted == nil {
			t.Fatalf("after B's fork: sequencer %v (B %v), halted %v, err %v", in.Sequencer, seqB.H.ID(), in.Halted != nil, err)
		}
		stopWriters()

		// Restart from the datastore: both proofs are still kept, the
		// document still stopped by B's.
		admin.StopService()
		n.StartClone(admin, cloneservice.WithParams(params))
		if !bothKept(admin) {
			evs, _ := admin.Svc.Evidence(d.ID)
			t.Fatalf("after a restart the clone keeps %d items, not both fork proofs", len(evs))
		}
		if in, err := admin.Svc.Info(d.ID); err != nil || in.Halted == nil {
			t.Fatalf("after a restart: halted %v, err %v", in.Halted != nil, err)
		}
		evs, _ := admin.Svc.Evidence(d.ID)
		forks := 0
		for _, ev := range evs {
			if ev.Kind != docsync.EvidenceFork {
				continue
			}
			forks++
			raw, err := ev.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := docsync.DecodeEvidence(raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.VerifyFor(ev.Sequencer); err != nil {
				t.Fatalf("exported fork proof against %x: %v", ev.Sequencer[:4], err)
			}
			bad := bytes.Clone(raw)
			bad[len(bad)-10] ^= 0x01
			if got, err := docsync.DecodeEvidence(bad); err == nil && got.Verify() == nil {
				t.Fatalf("a tampered copy of the proof against %x verifies", ev.Sequencer[:4])
			}
		}
		if forks != 2 {
			t.Fatalf("%d fork proofs kept, want 2 (one per sequencer)", forks)
		}

		// A datastore an older version wrote keeps A's proof at the single
		// /fork key: it is still read, beside B's kept per sequencer.
		admin.StopService()
		prefix := "/c/" + hex.EncodeToString(d.ID[:])
		var proofA *docsync.Evidence
		for _, ev := range evs {
			if ev.Kind == docsync.EvidenceFork && bytes.Equal(ev.Sequencer, keyA) {
				proofA = ev
			}
		}
		fb, err := (&docsync.ForkProof{A: proofA.A, B: proofA.B}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		bg := context.Background()
		if err := admin.DS.Delete(bg, datastore.NewKey(fmt.Sprintf("%s/evidence/%d/%x", prefix, docsync.EvidenceFork, keyA))); err != nil {
			t.Fatal(err)
		}
		if err := admin.DS.Put(bg, datastore.NewKey(prefix+"/fork"), fb); err != nil {
			t.Fatal(err)
		}
		n.StartClone(admin, cloneservice.WithParams(params))
		if !bothKept(admin) {
			t.Fatal("A's proof at the old /fork key was not restored beside B's")
		}
		if in, err := admin.Svc.Info(d.ID); err != nil || in.Halted == nil || in.Halted.A.Verify(keyB) != nil {
			t.Fatalf("with the old /fork key: halted %v (by B's proof: want it), err %v", in.Halted != nil, err)
		}

		in, _ = admin.Svc.Info(d.ID)
		t.Logf("forked by A at seq 8, recovered onto B, forked by B at seq 40: %d fork proofs kept across a restart, recovered from %v, halted at seq %d",
			forks, in.Recovered, in.Halted.A.Seq)
	})
}
