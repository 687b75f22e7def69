package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Progress draws one transfer's or one scan's progress bar on one line,
// redrawn in place, and only when w is a terminal and not quiet: piped
// output and tests stay clean. Update is the transfers' progress callback.
type Progress struct {
	w     io.Writer
	label string
	unit  string // "" for bytes (shown in MB, with a rate), else the items' name
	on    bool
	shown int // per mille last drawn, -1 before the first
	start time.Time
}

// NewProgress returns the bar of a transfer of bytes, labelled label, on w.
func NewProgress(w io.Writer, label string, quiet bool) *Progress {
	return &Progress{w: w, label: label, on: !quiet && IsTerminal(w), shown: -1, start: time.Now()}
}

// NewCounter returns the bar of work counted in items of unit (for
// example "files"), labelled label, on w.
func NewCounter(w io.Writer, label, unit string, quiet bool) *Progress {
	p := NewProgress(w, label, quiet)
	p.unit = unit
	return p
}

// Update draws done of total bytes (or items), when the bar moved by 0.1%
// or more.
func (p *Progress) Update(done, total uint64) {
	if !p.on || total == 0 {
		return
	}
	pm := int(min(done, total) * 1000 / total)
	if pm == p.shown {
		return
	}
	p.shown = pm
	const width = 30
	fill := pm * width / 1000
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	if p.unit != "" {
		fmt.Fprintf(p.w, "\r%s [%s] %d/%d %s %5.1f%%", p.label, bar, done, total, p.unit, float64(pm)/10)
		return
	}
	rate := float64(done) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s [%s] %6.1f/%.1f MB %5.1f%% %6.1f MB/s", p.label, bar,
		float64(done)/1e6, float64(total)/1e6, float64(pm)/10, rate)
}

// Done ends the bar's line.
func (p *Progress) Done() {
	if p.on && p.shown >= 0 {
		fmt.Fprintln(p.w)
	}
}
