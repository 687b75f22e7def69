package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchJoinHelpAndJSON(t *testing.T) {
	code, out, _ := c2c(t, "bench", "join", "--help")
	for _, want := range []string{"--entries", "--tail", "--snapshot-joins", "--replay", "--history-cache", "--cpu-profile", "--json"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("bench join --help: code %d, lacks %q", code, want)
		}
	}
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	code, out, errOut := c2c(t, "bench", "join", "--entries", "60", "--tail", "10", "--window", "16", "--keep-history", "8",
		"--snapshot-joins", "2", "--cpu-profile", prof, "--json")
	var r map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("bench join --json: code %d, %q, %s", code, out, errOut)
	}
	for _, f := range []string{"snapshot_ms", "snapshot_bytes", "replay_ms", "replay_bytes", "snapshot_ms_runs", "snapshot_cpu_ms"} {
		if _, ok := r[f]; !ok {
			t.Errorf("bench join --json lacks %q: %s", f, out)
		}
	}
	if r["identical"] != true || len(r["snapshot_ms_runs"].([]any)) != 2 {
		t.Errorf("bench join: %s", out)
	}
}
