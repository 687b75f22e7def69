package ot

// Benchmarks on realistic ops cut from the automerge-paper trace (CC BY 4.0,
// see trace_test.go): a batch is the composition of k consecutive trace
// edits, as a clone would send in one envelope.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// batchAt returns the composition of the k trace edits from start.
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

// sampleBatches returns up to max batches of k consecutive trace edits,
// evenly spread over the trace, so results do not hinge on one spot.
func sampleBatches(b *testing.B, ops []Op, k, max int) []Op {
	b.Helper()
	n := len(ops) / k
	step := 1
	if n > max {
		step = n / max
	}
	var out []Op
	for i := 0; i+step <= n; i += step {
		out = append(out, batchAt(b, ops, i*k, k))
	}
	return out
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

// burstBatch is another author typing k code points at one random place.
func burstBatch(b *testing.B, rng *rand.Rand, n, k int) Op {
	b.Helper()
	o, err := FromPatch(n, rng.IntN(n+1), 0, strings.Repeat("q", k))
	if err != nil {
		b.Fatal(err)
	}
	return o
}

var batchSizes = []int{1, 16, 256}

// BenchmarkTransform transforms real batches of k trace edits (sampled over
// the trace) against a concurrent batch on the same document: either a burst
// of k typed code points at one place or k edits scattered at random.
func BenchmarkTransform(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, against := range []string{"burst", "scattered"} {
		for _, k := range batchSizes {
			b.Run(fmt.Sprintf("against=%s/batch=%d", against, k), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(9, uint64(k)))
				as := sampleBatches(b, ops, k, 256)
				cs := make([]Op, len(as))
				for i, a := range as {
					if against == "burst" {
						cs[i] = burstBatch(b, rng, a.BaseLen, k)
					} else {
						cs[i] = scatteredBatch(b, rng, a.BaseLen, k)
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, _, err := Transform(as[i], cs[i]); err != nil {
						b.Fatal(err)
					}
					i = (i + 1) % len(as)
				}
			})
		}
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

// BenchmarkCompose composes pairs of consecutive batches of k trace edits,
// sampled over the trace.
func BenchmarkCompose(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			var xs, ys []Op
			step := max(2*k, len(ops)/256)
			for at := 0; at+2*k <= len(ops); at += step {
				xs = append(xs, batchAt(b, ops, at, k))
				ys = append(ys, batchAt(b, ops, at+k, k))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := Compose(xs[i], ys[i]); err != nil {
					b.Fatal(err)
				}
				i = (i + 1) % len(xs)
			}
		})
	}
}

// BenchmarkEncode encodes sampled batches; "bytes" is the mean encoded size.
func BenchmarkEncode(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			batches := sampleBatches(b, ops, k, 256)
			total := 0
			for _, o := range batches {
				enc, err := o.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				total += len(enc)
			}
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				var err error
				if buf, err = batches[i].AppendBinary(buf[:0]); err != nil {
					b.Fatal(err)
				}
				i = (i + 1) % len(batches)
			}
			b.ReportMetric(float64(total)/float64(len(batches)), "bytes")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	ops := traceOps(b, loadTrace(b))
	for _, k := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", k), func(b *testing.B) {
			var encs [][]byte
			for _, o := range sampleBatches(b, ops, k, 256) {
				enc, err := o.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				encs = append(encs, enc)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := Decode(encs[i]); err != nil {
					b.Fatal(err)
				}
				i = (i + 1) % len(encs)
			}
		})
	}
}
