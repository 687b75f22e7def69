package docsim

import (
	"os"
	"path/filepath"
	"testing"
)

// TestScripts runs every scenario script under testdata/scripts with a few seeds.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scripts", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		script, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				if _, err := RunScript(seed, string(script)); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
		})
	}
}
