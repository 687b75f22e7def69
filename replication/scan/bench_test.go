package scan_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/clone2clone/c2c/replication/scan"
)

// BenchmarkScanBody: 16 MiB of random bytes against the generated 10k body
// and 100k hash signatures, and with 1,000 more that have only a 2-byte
// anchor (the fallback filter's cost).
func BenchmarkScanBody(b *testing.B) {
	data := randBytes(rand.New(rand.NewPCG(5, 6)), 16<<20)
	for _, c := range []struct {
		name  string
		short int
	}{{"10k", 0}, {"10k+short1k", 1000}} {
		e := scan.NewEngine(generatedDB(b, c.short), nil)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := e.Scan(bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
