package docsync_test

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// TestEveryCheckHasTypedError feeds one clone entries that each break one
// check (docs/architecture.md, section 5) and asserts the typed error, the
// event, and that nothing was applied. The honest sequencer refuses the
// same envelopes where it can.
func TestEveryCheckHasTypedError(t *testing.T) {
	w, a, b, _ := threeMembers(t)
	rd := w.add(a, docsync.RoleReader)
	_ = w.insert(b, 0, "ok")
	w.settle()
	oldEnv := b.entries[len(b.entries)-1].Envelope // b's committed edit, for the replay case
	_ = w.insert(b, 0, "next")
	good := *w.outbox[0]
	w.outbox = w.outbox[:0]
	seq, prev := a.r.Log().Seq()+1, a.r.Log().HeadHash()
	outsider := w.newClone(false)

	resign := func(env docsync.Envelope, id *docsync.Identity, f func(*docsync.Envelope)) docsync.Envelope {
		env.Body = append([]byte(nil), env.Body...)
		f(&env)
		env.Author = id.ID()
		env.Sign(id.Sign)
		return env
	}
	byReader := resign(good, rd.id, func(e *docsync.Envelope) { e.Counter = 1 })
	byOutsider := resign(good, outsider.id, func(e *docsync.Envelope) { e.Counter = 1 })
	badParentHash := resign(good, b.id, func(e *docsync.Envelope) { e.ParentHash[0] ^= 1 })
	badParent := resign(good, b.id, func(e *docsync.Envelope) { e.Parent = seq })
	badEpoch := resign(good, b.id, func(e *docsync.Envelope) { e.Epoch = 7 })
	tampered := good
	tampered.Body = append([]byte(nil), good.Body...)
	tampered.Body[0] ^= 1
	addAgain := &docsync.MemberOp{Type: docsync.OpAdd, Member: b.r.ID(), HPKEPub: b.id.HPKEPublic(),
		Role: docsync.RoleWriter, Bundle: &docsync.KeyBundle{Epoch: 1,
			Keys: []docsync.WrappedKey{{Member: b.r.ID(), Ciphertext: []byte{1}}}}}
	body, err := addAgain.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	badMemberOp := resign(docsync.Envelope{Doc: w.doc, Counter: 1000, Parent: seq - 1, ParentHash: prev,
		Epoch: 1, Kind: docsync.KindMember, Body: body}, a.id, func(*docsync.Envelope) {})

	badSig := w.signEntry(seq, prev, &good)
	badSig.Head.Sig = append([]byte(nil), badSig.Head.Sig...)
	badSig.Head.Sig[0] ^= 1
	badChain := w.signEntry(seq, prev, &good)
	badChain.Head.ChainHash[0] ^= 1
	badChain.Head.Sign(w.seqKey)
	wrongDoc := w.signEntry(seq, prev, &good)
	wrongDoc.Head.Doc[0] ^= 1
	wrongDoc.Head.Sign(w.seqKey)

	cases := []struct {
		name     string
		entry    *docsync.Entry
		want     error
		seqCheck bool // the honest sequencer can see this one too
	}{
		{"sequencer signature", badSig, docsync.ErrSequencerSignature, false},
		{"author signature", w.signEntry(seq, prev, &tampered), docsync.ErrAuthorSignature, true},
		{"not a member", w.signEntry(seq, prev, &byOutsider), docsync.ErrNotMember, true},
		{"no write right", w.signEntry(seq, prev, &byReader), docsync.ErrNoWriteRight, true},
		{"replayed counter", w.signEntry(seq, prev, &oldEnv), docsync.ErrReplay, true},
		{"chain hash", badChain, docsync.ErrChainHash, false},
		{"parent hash (fork*)", w.signEntry(seq, prev, &badParentHash), docsync.ErrParentHash, true},
		{"parent range", w.signEntry(seq, prev, &badParent), docsync.ErrParentRange, true},
		{"epoch", w.signEntry(seq, prev, &badEpoch), docsync.ErrEpoch, true},
		{"membership op", w.signEntry(seq, prev, &badMemberOp), docsync.ErrBadMemberOp, true},
		{"wrong document", wrongDoc, docsync.ErrWrongDoc, false},
	}
	text := a.r.Text()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := a.r.HandleEntry(tc.entry)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			evs := a.r.Ready().Events
			a.r.Advance()
			if len(evs) == 0 || evs[0].Kind != docsync.EventRejected || !errors.Is(evs[0].Err, tc.want) {
				t.Fatalf("events %v", evs)
			}
			// Only the author-signature failure proves the sequencer's
			// doing (it chained the envelope after our head): evidence.
			var ev *docsync.Evidence
			for _, e := range evs[1:] {
				if e.Kind == docsync.EventEvidence {
					ev = e.Evidence
				}
			}
			if tc.want == docsync.ErrAuthorSignature {
				if ev == nil || ev.Kind != docsync.EvidenceTamper || ev.VerifyFor(w.seqKey.Public().(ed25519.PublicKey)) != nil {
					t.Fatalf("no verifying tamper evidence: %v", evs)
				}
			} else if ev != nil {
				t.Fatalf("evidence for %v: %v", tc.want, ev.Kind)
			}
			if a.r.Log().Seq() != seq-1 || a.r.Text() != text {
				t.Fatal("a failing entry changed the replica")
			}
			if tc.seqCheck {
				if _, err := w.seq.Order(&tc.entry.Envelope); !errors.Is(err, tc.want) {
					t.Fatalf("sequencer: got %v, want %v", err, tc.want)
				}
			}
		})
	}
	// The honest entry still commits after all that.
	if err := a.r.HandleEntry(w.signEntry(seq, prev, &good)); err != nil {
		t.Fatal(err)
	}
	if a.r.Text() != "nextok" {
		t.Fatalf("text %q", a.r.Text())
	}
}

func TestForkProofFromConflictingHeads(t *testing.T) {
	w, a, b, _ := threeMembers(t)
	_ = w.insert(a, 0, "x")
	envA := *w.outbox[0]
	w.outbox = w.outbox[:0]
	_ = w.insert(b, 0, "y")
	envB := *w.outbox[0]
	w.outbox = w.outbox[:0]
	seq, prev := a.r.Log().Seq()+1, a.r.Log().HeadHash()
	ea, eb := w.signEntry(seq, prev, &envA), w.signEntry(seq, prev, &envB) // equivocation
	if err := a.r.HandleEntry(ea); err != nil {
		t.Fatal(err)
	}
	if err := a.r.HandleHead(eb.Head); !errors.Is(err, docsync.ErrFork) {
		t.Fatalf("conflicting head: %v", err)
	}
	p := a.r.Halted()
	if p == nil || p.Verify(w.seqPub()) != nil {
		t.Fatalf("proof %v", p)
	}
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := docsync.DecodeForkProof(raw)
	if err != nil || q.Verify(w.seqPub()) != nil {
		t.Fatalf("decoded proof: %v", err)
	}
	q.B.ChainHash = q.A.ChainHash
	if err := q.Verify(w.seqPub()); !errors.Is(err, docsync.ErrInvalidProof) {
		t.Fatalf("agreeing heads verified as a fork: %v", err)
	}
	q.B.ChainHash[0] ^= 1
	if err := q.Verify(w.seqPub()); !errors.Is(err, docsync.ErrInvalidProof) {
		t.Fatalf("forged head verified: %v", err)
	}
	if err := w.insert(a, 0, "z"); !errors.Is(err, docsync.ErrHalted) {
		t.Fatalf("propose after fork: %v", err)
	}
	// An entry conflicting with a committed one is a fork too.
	if err := b.r.HandleEntry(eb); err != nil {
		t.Fatal(err)
	}
	if err := b.r.HandleEntry(ea); !errors.Is(err, docsync.ErrFork) || b.r.Halted() == nil {
		t.Fatalf("conflicting entry: %v", err)
	}
}
