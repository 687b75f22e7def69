package docsync_test

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// evidenceSet builds one Evidence of each kind, signed by a fresh
// sequencer key, as a Byzantine sequencer would leave them.
func evidenceSet(t testing.TB) (ed25519.PublicKey, []*docsync.Evidence) {
	seqPub, seqKey, _ := ed25519.GenerateKey(nil)
	authorPub, authorKey, _ := ed25519.GenerateKey(nil)
	var doc docsync.DocID
	doc[0] = 7
	author, _ := docsync.MemberIDOf(authorPub)
	env := &docsync.Envelope{Doc: doc, Author: author, Counter: 3, Parent: 1, Epoch: 1,
		Kind: docsync.KindEdit, Nonce: make([]byte, docsync.NonceSize), Body: []byte("ciphertext")}
	env.Sign(authorKey)
	head := func(seq uint64, prev docsync.Hash, e *docsync.Envelope) docsync.Head {
		h := docsync.Head{Doc: doc, Seq: seq, ChainHash: docsync.ChainHash(prev, e.Digest())}
		h.Sign(seqKey)
		return h
	}
	h1 := head(1, docsync.GenesisHash(doc), env)
	h2 := head(2, h1.ChainHash, env)
	tampered := *env
	tampered.Body = []byte("ciphertexu")
	other := *env
	other.Counter = 4
	other.Sign(authorKey)
	genesis := docsync.Head{Doc: doc, ChainHash: docsync.GenesisHash(doc)}
	return seqPub, []*docsync.Evidence{
		{Kind: docsync.EvidenceFork, Sequencer: seqPub, A: h2, B: head(2, h1.ChainHash, &other)},
		{Kind: docsync.EvidenceTamper, Sequencer: seqPub, A: h2, B: head(3, h2.ChainHash, &tampered), Envelope: &tampered},
		{Kind: docsync.EvidenceTamper, Sequencer: seqPub, A: genesis, B: head(1, genesis.ChainHash, &tampered), Envelope: &tampered},
		{Kind: docsync.EvidenceForgedSeq, Sequencer: seqPub, A: h1, B: head(3, h1.ChainHash, &other), Envelope: &other},
	}
}

func TestEvidenceVerifiesAndRoundTrips(t *testing.T) {
	seqPub, set := evidenceSet(t)
	for _, ev := range set {
		b, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := docsync.DecodeEvidence(b)
		if err != nil {
			t.Fatalf("%v: %v", ev.Kind, err)
		}
		if err := back.VerifyFor(seqPub); err != nil {
			t.Fatalf("%v: %v", ev.Kind, err)
		}
		other, _, _ := ed25519.GenerateKey(nil)
		if err := back.VerifyFor(other); !errors.Is(err, docsync.ErrEvidence) {
			t.Fatalf("%v: implicates another key: %v", ev.Kind, err)
		}
	}
}

// TestEvidenceTamperedCopyRefused: every single-byte change of an encoded
// evidence, and every truncation, is refused by decoding or by Verify.
func TestEvidenceTamperedCopyRefused(t *testing.T) {
	_, set := evidenceSet(t)
	for _, ev := range set {
		b, _ := ev.Marshal()
		for i := range b {
			c := append([]byte(nil), b...)
			c[i] ^= 0x01
			if got, err := docsync.DecodeEvidence(c); err == nil && got.Verify() == nil {
				t.Fatalf("%v: byte %d flipped still verifies", ev.Kind, i)
			}
		}
		for n := range len(b) {
			if _, err := docsync.DecodeEvidence(b[:n]); err == nil {
				t.Fatalf("%v: truncated to %d decodes", ev.Kind, n)
			}
		}
		if _, err := docsync.DecodeEvidence(append(b, 0)); err == nil {
			t.Fatalf("%v: a trailing byte decodes", ev.Kind)
		}
	}
}

// TestEvidenceRefusesHonestBehaviour: what an honest sequencer signs is no evidence.
func TestEvidenceRefusesHonestBehaviour(t *testing.T) {
	_, set := evidenceSet(t)
	fork, tamper, forged := set[0], set[1], set[3]
	same := *fork
	same.B = same.A
	honestTamper := *tamper
	honestTamper.Envelope = forged.Envelope // validly signed, but not what B chains
	consecutive := *forged
	consecutive.B.Seq = consecutive.A.Seq + 1
	for name, ev := range map[string]*docsync.Evidence{"same head": &same, "wrong envelope": &honestTamper,
		"resigned seq": &consecutive} {
		if err := ev.Verify(); !errors.Is(err, docsync.ErrEvidence) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeEvidence(f *testing.F) {
	_, set := evidenceSet(f)
	for _, ev := range set {
		b, _ := ev.Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := docsync.DecodeEvidence(b)
		if err != nil {
			if !errors.Is(err, docsync.ErrEvidence) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		_ = ev.Verify()
		_ = ev.Describe()
		again, err := ev.Marshal()
		if err != nil || string(again) != string(b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}
