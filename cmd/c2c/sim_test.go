package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimRunsC2CSimWithItsArguments(t *testing.T) {
	// A stand-in c2c-sim on PATH that echoes its arguments and fails, so
	// the test sees both what c2c sim passes on and its exit status.
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"c2c-sim got: $*\"\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, simBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	code, out, _ := c2c(t, "sim", "directory", "--instances", "1000")
	if code != 1 || !strings.Contains(out, "c2c-sim got: directory --instances 1000") {
		t.Fatalf("code %d, out %q", code, out)
	}
}

func TestSimWithoutC2CSimSaysHowToBuildIt(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, _, errOut := c2c(t, "sim", "directory")
	if code != 1 || !strings.Contains(errOut, "go build ./cmd/c2c-sim") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
