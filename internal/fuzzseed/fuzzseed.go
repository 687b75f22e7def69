// Package fuzzseed writes a fuzz target's seed corpus in the format `go
// test` reads from testdata/fuzz/<target>/, for the tests that regenerate
// the committed corpora (C2C_WRITE_CORPUS=1).
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Write writes seeds[target][i] as
// testdata/fuzz/<target>/seed<i> below the test's working directory.
func Write(t testing.TB, seeds map[string][][]byte) {
	t.Helper()
	for target, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range list {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
