package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// sim runs the command in-process and returns its exit code, stdout and
// stderr. Only calls that fail before the run can be tested this way: a run
// ends the process (insim.Main).
func sim(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelpNamesCasesFlagsAndEnv(t *testing.T) {
	code, out, _ := sim(t, "--help")
	for _, want := range []string{"c2c-sim directory|docsync", "--instances", "--log-level", "--node-logs", "C2C_INSTANCES"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("help: code %d, lacks %q:\n%s", code, want, out)
		}
	}
}

func TestBadInputFailsBeforeTheRun(t *testing.T) {
	if code, _, errOut := sim(t, "--log-level", "loud", "directory"); code != 1 || !strings.Contains(errOut, "log-level") {
		t.Fatalf("bad --log-level: code %d, %q", code, errOut)
	}
	unwritable := filepath.Join(t.TempDir(), "no", "such", "dir", "heap.pprof")
	if code, _, errOut := sim(t, "directory", "--quiet", "--heap-profile", unwritable); code != 1 || !strings.Contains(errOut, "heap.pprof") {
		t.Fatalf("unwritable --heap-profile: code %d, %q", code, errOut)
	}
	if code, _, _ := sim(t); code != 1 {
		t.Fatalf("no case: code %d", code)
	}
	t.Setenv("C2C_INSTANCES", "many")
	if code, _, errOut := sim(t, "directory"); code != 1 || !strings.Contains(errOut, "c2c-sim: C2C_INSTANCES") {
		t.Fatalf("bad C2C_INSTANCES: code %d, %q", code, errOut)
	}
}
