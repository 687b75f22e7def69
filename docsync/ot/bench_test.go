package ot

// Benchmarks on realistic ops cut from the automerge-paper trace (CC BY 4.0,
// see trace_test.go): a batch is the composition of k consecutive trace
// edits, as a clone would send in one envelope.

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// batchAt returns the document before trace edit start and the composition
// of the k edits from there.
func batchAt(b *testing.B, ops []Op, start, k int) Op {
	b.Helper()
	batch := ops[start]
	for _, o := range ops[start+1 : start+k] {
		var err error
		if batch, err = Compose(batch, o); err != nil {
			b.Fatal(err)
		}
	}
	return batch
}

// scatteredBatch is a concurrent batch from another author: k single
// code point edits at random places of a document of n code points.
func scatteredBatch(b *testing.B, rng *rand.Rand, n, k int) Op {
	b.Helper()
	batch := Op{}
	batch.Retain(n)
	for range k {
		var o Op
		var err error
		if pos := rng.IntN(batch.TargetLen + 1); rng.IntN(4) == 0 && pos < batch.TargetLen {
			o, err = FromPatch(batch.TargetLen, pos, 1, "")
		} else {
			o, err = FromPatch(batch.TargetLen, pos, 0, "q")
		}
		if err != nil {
			b.Fatal(err)
		}
		if batch, err = Compose(batch, o); err != nil {
			b.Fatal(err)
		}
	}
	return batch
}

var batchSizes = []int{1, 16, 256}

// BenchmarkTransform transforms a real typing burst of k edits against a
// concurrent batch of k scattered edits, both on the ~100k code point
// document of trace step 200,000.
func BenchmarkTransform(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	const at = 200_000
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			a := batchAt(b, ops, at, k)
			c := scatteredBatch(b, rand.New(rand.NewPCG(9, uint64(k))), a.BaseLen, k)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Transform(a, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkComposeBuffer is the clone's edit buffer: every trace edit is
// composed into a buffer that is flushed every k edits. Reported per edit.
func BenchmarkComposeBuffer(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, k := range []int{16, 256} {
		b.Run(fmt.Sprintf("flush=%d", k), func(b *testing.B) {
			b.ReportAllocs()
			edits := 0
			for b.Loop() {
				for i := 0; i+k <= len(ops); i += k {
					batchAt(b, ops, i, k)
					edits += k
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(edits), "ns/edit")
		})
	}
}

// BenchmarkCompose composes two consecutive batches of k trace edits.
func BenchmarkCompose(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	const at = 200_000
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			x, y := batchAt(b, ops, at, k), batchAt(b, ops, at+k, k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compose(x, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			o := batchAt(b, ops, 200_000, k)
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = o.AppendBinary(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			enc, err := batchAt(b, ops, 200_000, k).MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
