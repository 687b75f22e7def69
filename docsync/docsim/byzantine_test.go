package docsim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// detected reports whether an honest clone noticed behaviour b of byz.
func detected(b sequencer.Behaviour, byz *sequencer.Byzantine, c *Clone) bool {
	forgedSeq := map[uint64]bool{}
	for _, e := range byz.Forged {
		forgedSeq[e.Head.Seq] = true
	}
	_, _, missing := c.Replica.Missing()
	has := func(kind docsync.EventKind, target error) bool {
		for _, ev := range c.Events {
			if ev.Kind == kind && (target == nil || errors.Is(ev.Err, target)) {
				return true
			}
		}
		return false
	}
	switch b {
	case sequencer.Equivocate:
		return has(docsync.EventFork, nil) || has(docsync.EventRejected, docsync.ErrParentHash)
	case sequencer.Drop:
		return missing && has(docsync.EventGap, nil)
	case sequencer.Reorder:
		return has(docsync.EventFork, nil) || has(docsync.EventRejected, nil)
	case sequencer.Duplicate, sequencer.Replay:
		// Refused as a replay, or earlier as stale (epoch) or from a removed member.
		for _, ev := range c.Events {
			if ev.Kind == docsync.EventRejected && forgedSeq[ev.Seq] {
				return true
			}
		}
		return false
	case sequencer.Tamper:
		// Rejected, and with evidence that the sequencer ordered it.
		return has(docsync.EventRejected, docsync.ErrAuthorSignature) && has(docsync.EventEvidence, nil)
	case sequencer.ForgeSeq:
		// The skipped seq can never be filled consistently: either the next
		// entry there breaks the chain, or the hole stays (nobody can serve it).
		// A clone that saw the forged entry chained after its own head
		// keeps the evidence.
		return has(docsync.EventEvidence, nil)
	}
	return false
}

var (
	lastNet *Net
	lastByz *sequencer.Byzantine
)

// runByzantine runs one randomized scenario against a Byzantine sequencer and
// returns how many honest clones detected it.
func runByzantine(t *testing.T, b sequencer.Behaviour, seed uint64) (detectors, clones int) {
	t.Helper()
	var byz *sequencer.Byzantine
	var net *Net
	s := Scenario{Seed: seed, Clones: 4 + int(seed%9), Ticks: 60, EditProb: 0.3,
		Membership: seed%2 == 0, Initial: 3,
		OnNet: func(n *Net) { net = n },
		Sequencer: func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
			at := 3 + seed%8
			byz = sequencer.NewByzantine(doc, key, b, at)
			byz.Victims = func(id docsync.MemberID) bool {
				for _, c := range net.Clones {
					if c.Replica.ID() == id {
						return c.Index%2 == 1
					}
				}
				return false
			}
			return byz
		}}
	res, err := s.Run()
	if err != nil {
		t.Fatalf("%v seed %d: %v", b, seed, err)
	}
	lastNet, lastByz = res.Net, byz
	forged := map[docsync.Hash]bool{}
	for _, e := range byz.Forged {
		forged[e.Envelope.Digest()] = true
	}
	for _, c := range res.Net.Clones {
		for _, e := range c.Committed {
			if err := e.Envelope.VerifyAuthor(); err != nil {
				t.Fatalf("%v seed %d: clone %d committed an entry with a bad author signature", b, seed, c.Index)
			}
			if b == sequencer.Tamper && forged[e.Envelope.Digest()] {
				t.Fatalf("%v seed %d: clone %d applied the tampered entry", b, seed, c.Index)
			}
		}
		for _, ev := range c.Events {
			if ev.Evidence != nil {
				checkEvidence(t, b, seed, c.Index, ev.Evidence, net.SeqKey.Public().(ed25519.PublicKey))
			}
			if ev.Proof != nil {
				if err := ev.Proof.Verify(net.SeqKey.Public().(ed25519.PublicKey)); err != nil {
					t.Fatalf("%v seed %d: clone %d fork proof does not verify: %v", b, seed, c.Index, err)
				}
			}
		}
		if detected(b, byz, c) {
			detectors++
		}
	}
	if len(byz.Forged) == 0 && b != sequencer.Drop {
		t.Fatalf("%v seed %d: the sequencer never misbehaved", b, seed)
	}
	return detectors, len(res.Net.Clones)
}

// checkEvidence fails unless ev verifies offline (through its encoding),
// implicates the sequencer and is of the kind behaviour b leaves.
func checkEvidence(t *testing.T, b sequencer.Behaviour, seed uint64, clone int, ev *docsync.Evidence, seqPub ed25519.PublicKey) {
	t.Helper()
	want := map[sequencer.Behaviour]docsync.EvidenceKind{sequencer.Tamper: docsync.EvidenceTamper,
		sequencer.ForgeSeq: docsync.EvidenceForgedSeq}[b]
	if ev.Kind != want {
		t.Fatalf("%v seed %d: clone %d kept %v evidence", b, seed, clone, ev.Kind)
	}
	raw, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := docsync.DecodeEvidence(raw)
	if err == nil {
		err = back.VerifyFor(seqPub)
	}
	if err != nil {
		t.Fatalf("%v seed %d: clone %d evidence does not verify: %v", b, seed, clone, err)
	}
}

// TestByzantineDetection: every behaviour is detected by at least one honest
// clone in every randomized run. Run with -v for the runs x behaviours table.
func TestByzantineDetection(t *testing.T) {
	runs := simRuns(10, 3)
	var table strings.Builder
	fmt.Fprintf(&table, "%-11s %5s %9s %s\n", "behaviour", "runs", "detected", "detecting clones per run")
	for _, b := range sequencer.Behaviours {
		hit := 0
		var per []string
		for i := range runs {
			seed := uint64(100*int(b) + i)
			d, n := runByzantine(t, b, seed)
			if d == 0 {
				t.Errorf("%v seed %d: no honest clone detected it", b, seed)
			} else {
				hit++
			}
			per = append(per, fmt.Sprintf("%d/%d", d, n))
		}
		if len(per) > 12 {
			per = append(per[:12], "...")
		}
		fmt.Fprintf(&table, "%-11s %5d %9d %s\n", b, runs, hit, strings.Join(per, " "))
	}
	t.Logf("runs x behaviours:\n%s", table.String())
}
