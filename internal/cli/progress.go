package cli

import (
	"fmt"
	"io"
	"strings"
)

// A Progress draws a one-line progress bar on w (a terminal's stderr):
// each Update redraws the line, Done ends it. It draws only when the
// figure changes, so a caller may update per item.
type Progress struct {
	w     io.Writer
	label string
	last  string
}

// NewProgress returns a bar labelled label on w.
func NewProgress(w io.Writer, label string) *Progress { return &Progress{w: w, label: label} }

// Bar renders done of total as a 30-cell bar with the count.
func Bar(label string, done, total int) string {
	const cells = 30
	filled := cells
	if total > 0 {
		filled = min(cells, max(0, done*cells/total))
	}
	return fmt.Sprintf("%s [%s%s] %d/%d", label, strings.Repeat("#", filled), strings.Repeat(".", cells-filled), done, total)
}

// Update redraws the bar at done of total.
func (p *Progress) Update(done, total int) {
	line := Bar(p.label, done, total)
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.w, "\r%s", line)
}

// Done ends the bar's line.
func (p *Progress) Done() {
	if p.last != "" {
		fmt.Fprintln(p.w)
	}
}
