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

// Progress draws one transfer's progress bar on one line, redrawn in
// place, and only when w is a terminal and not quiet: piped output and
// tests stay clean. Update is the transfers' progress callback.
type Progress struct {
	w     io.Writer
	label string
	on    bool
	shown int // per mille last drawn, -1 before the first
	start time.Time
}

// NewProgress returns the bar of label on w.
func NewProgress(w io.Writer, label string, quiet bool) *Progress {
	return &Progress{w: w, label: label, on: !quiet && IsTerminal(w), shown: -1, start: time.Now()}
}

// Update draws done of total bytes, when the bar moved by 0.1% or more.
func (p *Progress) Update(done, total uint64) {
	if !p.on || total == 0 {
		return
	}
	pm := int(done * 1000 / total)
	if pm == p.shown {
		return
	}
	p.shown = pm
	const width = 30
	fill := pm * width / 1000
	rate := float64(done) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s [%s%s] %6.1f/%.1f MB %5.1f%% %6.1f MB/s", p.label, strings.Repeat("=", fill),
		strings.Repeat(" ", width-fill), float64(done)/1e6, float64(total)/1e6, float64(pm)/10, rate)
}

// Done ends the bar's line.
func (p *Progress) Done() {
	if p.on && p.shown >= 0 {
		fmt.Fprintln(p.w)
	}
}
