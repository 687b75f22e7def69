package main

import (
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/control"
)

// c2c doc without a running clone says so.
func TestDocWithoutClone(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := c2c(t, "doc", "list", "--data", dir)
	if code == 0 || !strings.Contains(errOut, "not running") || !strings.Contains(errOut, control.SocketFile) {
		t.Fatalf("doc list with no clone: %d %q", code, errOut)
	}
}

func TestDocEditFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"doc", "edit", "--data", dir, "abcdef12"},
		{"doc", "edit", "--data", dir, "abcdef12", "--append", "x", "--delete", "1"},
		{"doc", "edit", "--data", dir, "abcdef12", "--insert", "x"},
		{"doc", "edit", "--data", dir, "abcdef12", "--delete", "2"},
		{"doc", "create", "--data", dir},
		{"doc", "watch", "--data", dir, "abcdef12", "--until", "forever"},
	} {
		if code, _, errOut := c2c(t, args...); code == 0 || strings.Contains(errOut, "not running") {
			t.Errorf("%v: exit %d, stderr %q: want a flag error before any call", args, code, errOut)
		}
	}
}

func TestSequencerByzantineFlag(t *testing.T) {
	f := &byzantineFlags{behaviour: "equivocate", at: 3}
	if _, err := f.factory(); err != nil {
		t.Fatal(err)
	}
	f.behaviour = "lie"
	if _, err := f.factory(); err == nil || !strings.Contains(err.Error(), "equivocate") {
		t.Fatalf("unknown behaviour: %v", err)
	}
}

func TestEventLine(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	line := eventLine(control.Event{Kind: "alarm", Seq: 9, Time: at,
		Alarm: &control.ForkAlarm{Seq: 9, A: strings.Repeat("a", 64), B: strings.Repeat("b", 64)}})
	if !strings.Contains(line, "FORK at seq 9") || !strings.Contains(line, "03:04:05.000") {
		t.Fatalf("alarm line %q", line)
	}
	line = eventLine(control.Event{Kind: "update", Seq: 3, Author: strings.Repeat("c", 64), Inserted: "hi", Time: at})
	if !strings.Contains(line, `inserted="hi"`) || !strings.Contains(line, "author=cccccccccccccccc ") {
		t.Fatalf("update line %q", line)
	}
}
