package docsync_test

import (
	"fmt"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
)

// BenchmarkEntryVerifyDecryptTransform measures what a clone spends on one
// remote ordered entry: sequencer and author signatures, chain hash,
// membership and counter checks, decryption, decoding, transformation
// against the concurrent committed entries (parents lag 0-2 seqs) and
// applying it to the committed and local texts.
func BenchmarkEntryVerifyDecryptTransform(b *testing.B) {
	w := newWorld(&testing.T{})
	a := w.newClone(true)
	w.settle()
	x := w.add(a, docsync.RoleWriter)
	y := w.add(a, docsync.RoleWriter)
	obs := w.add(a, docsync.RoleReader)
	setup := len(obs.entries)
	for i := 0; len(w.seq.Entries()) < setup+3000; i++ {
		// Three concurrent keystrokes per round, ordered together.
		_ = w.insert(a, 0, "a")
		_ = w.insert(x, x.r.LocalLen()/2, "x")
		_ = w.insert(y, y.r.LocalLen(), "y")
		es := w.order()
		for _, c := range []*clone{a, x, y} {
			for _, e := range es {
				_ = c.r.HandleEntry(e)
				w.drain(c)
			}
		}
	}
	all := w.seq.Entries()
	cfg := docsync.Config{Doc: w.doc, Sequencer: w.seqPub(), Identity: obs.id}
	fresh := func() *docsync.Replica {
		r, err := docsync.Restore(cfg, all[:setup], nil)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	r := fresh()
	next := setup
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if next == len(all) {
			b.StopTimer()
			r, next = fresh(), setup
			b.StartTimer()
		}
		if err := r.HandleEntry(all[next]); err != nil {
			b.Fatal(err)
		}
		r.Advance()
		next++
	}
	b.ReportMetric((cpuTime()-cpu0)*1e9/float64(b.N), "cpu-ns/op")
}

// BenchmarkSealEnvelope measures sealing one envelope carrying a batch of
// keystrokes: composing them into one op, encoding, XChaCha20-Poly1305
// encryption and the Ed25519 signature.
func BenchmarkSealEnvelope(b *testing.B) {
	base := make([]rune, 10000)
	for i := range base {
		base[i] = 'a' + rune(i%26)
	}
	var key docsync.EpochKey
	id, err := docsync.NewIdentity(seededReader{newWorld(&testing.T{}).rng})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 16, 256} {
		edits := make([]ot.Op, n)
		for i := range edits {
			op, err := ot.FromPatch(len(base)+i, 5000+i, 0, "k")
			if err != nil {
				b.Fatal(err)
			}
			edits[i] = op
		}
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			rng := seededReader{newWorld(&testing.T{}).rng}
			var size int
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				op := edits[0]
				for _, e := range edits[1:] {
					if op, err = ot.Compose(op, e); err != nil {
						b.Fatal(err)
					}
				}
				pt, err := op.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				env := &docsync.Envelope{Author: id.ID(), Counter: uint64(i + 1), Epoch: 1}
				if err := env.SealEdit(key, rng, pt); err != nil {
					b.Fatal(err)
				}
				env.Sign(id.Sign)
				size = len(env.Body)
			}
			b.ReportMetric(float64(size), "body-bytes")
			b.ReportMetric((cpuTime()-cpu0)*1e9/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/edit")
		})
	}
}
