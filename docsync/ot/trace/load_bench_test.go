package trace

import "testing"

// BenchmarkLoad reads and parses the automerge-paper trace (CC BY 4.0, see
// AutomergePaper).
func BenchmarkLoad(b *testing.B) {
	p, err := Find()
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := Load(p); err != nil {
			b.Fatal(err)
		}
	}
}
