package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/internal/abuse"
)

func TestParseAttackList(t *testing.T) {
	all, err := parseAttackList("all")
	if err != nil || strings.Join(all, ",") != "invite_flood,slow_frames,register_flood,kill_clone,history_fetch" {
		t.Fatalf("all = %v, %v", all, err)
	}
	got, err := parseAttackList(" history_fetch, invite_flood,baseline_clone")
	if err != nil || strings.Join(got, ",") != "baseline_clone,invite_flood,history_fetch" {
		t.Fatalf("a list comes back in run order: %v, %v", got, err)
	}
	if _, err := parseAttackList("invite_flood,fork_bomb"); err == nil || !strings.Contains(err.Error(), "fork_bomb") {
		t.Fatalf("unknown attack: %v", err)
	}
}

// The JSON is one object with a list "attacks"; each has at least attack,
// rss_growth_bytes, honest_edit_ok and restart_ok (the fields), with
// these types.
func TestAbuseReportJSONShape(t *testing.T) {
	ok := true
	rep := &abuseReport{Data: "/tmp/x", StartedAt: time.Unix(0, 0).UTC(), Params: abuseParams{Invites: 10000},
		Attacks: []*attackRow{
			{Attack: "invite_flood", Target: "clone-a", RSSBefore: 50 << 20, RSSPeak: 190 << 20, RSSAfter: 180 << 20,
				RSSGrowth: 140 << 20, CPUSeconds: 1.5, HonestEditOK: true, Detail: "x", HonestCreateOK: &ok,
				Streams: &abuse.Result{Tried: 3, Opened: 3, Accepted: 1, Refused: 2, Reasons: map[string]int{"no": 2}, Elapsed: 1500 * time.Millisecond}},
			{Attack: "history_fetch", Target: "sequencer", Error: "network did not come up"},
		}}
	var buf bytes.Buffer
	if err := rep.writeJSON(&buf); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&buf)
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Fatal("more than one JSON value")
	}
	attacks, ok2 := got["attacks"].([]any)
	if !ok2 || len(attacks) != 2 {
		t.Fatalf("attacks: %#v", got["attacks"])
	}
	for _, a := range attacks {
		m := a.(map[string]any)
		if _, ok := m["attack"].(string); !ok {
			t.Errorf("attack: %#v", m["attack"])
		}
		for _, k := range []string{"rss_growth_bytes", "rss_before_bytes", "rss_peak_bytes", "rss_after_bytes", "cpu_seconds", "duration_s"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s: %s is %#v, want a number", m["attack"], k, m[k])
			}
		}
		for _, k := range []string{"honest_edit_ok", "restart_ok"} {
			if _, ok := m[k].(bool); !ok {
				t.Errorf("%s: %s is %#v, want a bool", m["attack"], k, m[k])
			}
		}
	}
	first := attacks[0].(map[string]any)
	if first["rss_growth_bytes"].(float64) != 140<<20 || first["honest_create_ok"] != true {
		t.Errorf("first row: %v", first)
	}
	st := first["streams"].(map[string]any)
	if st["refused"].(float64) != 2 || st["elapsed_s"].(float64) != 1.5 || st["reasons"].(map[string]any)["no"].(float64) != 2 {
		t.Errorf("streams: %v", st)
	}
	if _, ok := attacks[1].(map[string]any)["served_by_clone"]; ok {
		t.Error("a field the attack did not measure is present")
	}
	if got["params"].(map[string]any)["invites"].(float64) != 10000 {
		t.Errorf("params: %v", got["params"])
	}
}

func TestAbuseTableOneRowPerAttack(t *testing.T) {
	rep := &abuseReport{Attacks: []*attackRow{
		{Attack: "slow_frames", Target: "clone-a", RSSBefore: 50 << 20, RSSPeak: 4146 << 20, RSSGrowth: 4096 << 20, RSSCapped: true, RestartOK: true, Detail: "d1"},
		{Attack: "kill_clone", Target: "clone-a", Error: "boom"},
	}}
	var buf bytes.Buffer
	rep.printTable(&buf)
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasPrefix(lines[0], "attack") || !strings.Contains(lines[0], "honest_edit_ok") || !strings.Contains(lines[0], "restart_ok") {
		t.Fatalf("header: %q", lines[0])
	}
	if !strings.Contains(lines[1], "slow_frames") || !strings.Contains(lines[1], "+4096.0 (capped)") || !strings.Contains(lines[1], "4146.0") {
		t.Errorf("row: %q", lines[1])
	}
	if !strings.Contains(lines[2], "did not run: boom") {
		t.Errorf("failed row: %q", lines[2])
	}
}

func TestClipKeepsCharacters(t *testing.T) {
	if got := clip("short", 10); got != "short" {
		t.Fatalf("clip of a short string: %q", got)
	}
	got := clip("ab×cdefgh", 6) // × is 2 bytes at 2..3: cut before it
	if got != "ab..." {
		t.Fatalf("clip = %q", got)
	}
}

func TestAttackRowFinishAndOK(t *testing.T) {
	r := &attackRow{Detail: "500 invitations", HonestEditOK: true, RestartOK: true}
	if !r.ok() {
		t.Fatal("all verdicts hold but not ok")
	}
	r.HonestCreateOK = ptr(false)
	r.note("honest doc create: %s", "refused")
	r.finish()
	if r.ok() || r.Detail != "500 invitations; honest doc create: refused" {
		t.Fatalf("ok %v, detail %q", r.ok(), r.Detail)
	}
}
