package main

import (
	"os"
	"path/filepath"
	"testing"
)

// --alloc-profile FILE leaves the allocation profile of the window's start
// in FILE.start and of its end in FILE, for pprof -diff_base.
func TestWindowProfilesWriteAllocsAtStartAndEnd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "allocs.prof")
	p := &windowProfiles{allocs: file}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("FILE written at the start: %v", err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{file + ".start", file} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v (%v)", f, err, st)
		}
	}
}
