package main

import (
	"strings"
	"testing"
)

func TestBenchPaperHelpAndRefusals(t *testing.T) {
	code, out, _ := c2c(t, "bench", "paper", "--help")
	for _, want := range []string{"--runs", "--json", "--out", "--link", "--profile", "docs/bench.md", "C2C_DATA"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("bench paper --help: code %d, lacks %q", code, want)
		}
	}
	for _, args := range [][]string{{"--link", "5g"}, {"--profile", "nokia"}, {"--users", "40"}} {
		code, _, errOut := c2c(t, append([]string{"bench", "paper", "--out", ""}, args...)...)
		if code == 0 || !strings.Contains(errOut, strings.TrimPrefix(args[0], "--")) {
			t.Errorf("bench paper %v: code %d, error %q should name the flag", args, code, errOut)
		}
	}
}
