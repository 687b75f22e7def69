package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/clone2clone/c2c/internal/abuse"
)

// abuseReport is what c2c bench abuse --json prints: one JSON object.
type abuseReport struct {
	Attacks   []*attackRow `json:"attacks"`
	Data      string       `json:"data"` // the bench's data dir (each attack's network and logs below it)
	Kept      bool         `json:"kept"` // the data dir was kept
	StartedAt time.Time    `json:"started_at"`
	DurationS float64      `json:"duration_s"`
	Params    abuseParams  `json:"params"`
}

// attackRow is one attack's measurements and verdicts.
type attackRow struct {
	Attack string `json:"attack"`
	Target string `json:"target"` // the attacked process: clone-a or sequencer

	RSSBefore  uint64  `json:"rss_before_bytes"`
	RSSPeak    uint64  `json:"rss_peak_bytes"` // highest of the 100 ms samples during the attack
	RSSAfter   uint64  `json:"rss_after_bytes"`
	RSSGrowth  int64   `json:"rss_growth_bytes"`     // peak minus before
	RSSCapped  bool    `json:"rss_capped,omitempty"` // the attack was stopped at --max-rss
	CPUSeconds float64 `json:"cpu_seconds"`          // the target's utime+stime during the attack
	DurationS  float64 `json:"duration_s"`           // the attack's wall time

	HonestEditOK bool    `json:"honest_edit_ok"` // after the attack, a device edit on A reached B
	HonestEditS  float64 `json:"honest_edit_s,omitempty"`
	Restarted    bool    `json:"restarted"`  // after kill -9 the target came back ready on its data dir
	RestartOK    bool    `json:"restart_ok"` // ... and a device edit on A then reached B
	RestartS     float64 `json:"restart_s,omitempty"`
	Detail       string  `json:"detail"`
	Error        string  `json:"error,omitempty"` // the attack could not run (its network did not come up)
	Logs         string  `json:"logs,omitempty"`  // the attack network's log files

	Streams *abuse.Result `json:"streams,omitempty"` // what the attacker's streams did

	HonestCreateOK        *bool    `json:"honest_create_ok,omitempty"`        // c2c doc create on A after the attack
	TrackedDocs           *int     `json:"tracked_docs,omitempty"`            // documents clone A tracks after the attack
	SequencerDocs         *int     `json:"sequencer_docs,omitempty"`          // documents the sequencer holds (registered)
	AckedEdits            *int     `json:"acked_edits,omitempty"`             // kill_clone: edits acknowledged before the kill
	OnBAtKill             *int     `json:"on_b_at_kill,omitempty"`            // ... of them already on B at the kill
	DeliveredEdits        *int     `json:"delivered_edits,omitempty"`         // ... of them found on B within the bound
	DeliveryS             *float64 `json:"delivery_s,omitempty"`              // ... from the kill until B had them all
	AckedAfterRestart     *int     `json:"acked_after_restart,omitempty"`     // kill_clone: edits the restarted A acknowledged
	DeliveredAfterRestart *int     `json:"delivered_after_restart,omitempty"` // ... of them found on B within the bound
	ServedBySequencer     *int     `json:"served_by_sequencer,omitempty"`     // history_fetch: entries a non-member got
	ServedByClone         *int     `json:"served_by_clone,omitempty"`
	HistoryRefused        *bool    `json:"history_refused,omitempty"` // ... neither served any

	notes []string // what went wrong, joined into Detail
}

// note records a failure for the row's detail.
func (r *attackRow) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// finish joins the notes into Detail.
func (r *attackRow) finish() {
	parts := append([]string{r.Detail}, r.notes...)
	if r.Detail == "" {
		parts = parts[1:]
	}
	r.Detail = strings.Join(parts, "; ")
}

// ok reports whether every verdict of the row holds.
func (r *attackRow) ok() bool {
	return r.Error == "" && r.HonestEditOK && r.RestartOK && (r.HonestCreateOK == nil || *r.HonestCreateOK)
}

func ptr[T any](v T) *T { return &v }

// mib renders bytes in MiB.
func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// maxTableDetail cuts a detail in the table (the JSON has all of it).
const maxTableDetail = 240

// clip cuts s to about n bytes, at a character boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= 3
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// printTable writes one row per attack.
func (rep *abuseReport) printTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "attack\ttarget\trss before\tpeak\tafter\tgrowth\tcpu s\thonest_edit_ok\trestart_ok\tdetail")
	for _, r := range rep.Attacks {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\tdid not run: %s\n", r.Attack, r.Target, r.Error)
			continue
		}
		growth := fmt.Sprintf("%+.1f", float64(r.RSSGrowth)/(1<<20))
		if r.RSSCapped {
			growth += " (capped)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\n", r.Attack, r.Target, mib(r.RSSBefore), mib(r.RSSPeak),
			mib(r.RSSAfter), growth, r.CPUSeconds, yesNo(r.HonestEditOK), yesNo(r.RestartOK), clip(r.Detail, maxTableDetail))
	}
	tw.Flush()
	fmt.Fprintf(w, "RSS in MiB (VmRSS, sampled every 100 ms); growth = peak - before; cpu = the target's utime+stime during the attack; details cut at %d bytes (--json has them whole).\n", maxTableDetail)
}

// writeJSON writes the report as one indented JSON object.
func (rep *abuseReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
