package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newDeviceEditCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "edit DOC",
		Short: "Edit a document in the terminal; remote edits show up live",
		Long: `edit opens a full-screen editor on the device's copy of DOC. Typing, Enter,
Backspace, Delete (Ctrl-D) and the arrow keys edit at the cursor; every
keystroke is applied at once and sent to the clone, and remote edits appear
as they arrive. The other members' cursors show in their colours, their
names on the status line, and yours goes to them (presence: never stored,
sealed under the document key). Ctrl-O goes offline (edits are kept) and
back online (one catch-up bundle); Ctrl-Q quits.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fd := int(os.Stdin.Fd())
			if !term.IsTerminal(fd) {
				return fmt.Errorf("c2c device edit needs a terminal")
			}
			s, err := deviceFromFlags(cmd, g)
			if err != nil {
				return err
			}
			defer s.close()
			d, err := s.open(cmd.Context(), args[0], false)
			if err != nil {
				return err
			}
			old, err := term.MakeRaw(fd)
			if err != nil {
				return err
			}
			defer term.Restore(fd, old)
			e := &editor{d: d, out: os.Stdout, doc: args[0], sent: -1}
			err = e.run(cmd.Context(), os.Stdin, func() (int, int) {
				w, h, err := term.GetSize(fd)
				if err != nil {
					return 80, 24
				}
				return w, h
			})
			fmt.Fprint(os.Stdout, "\x1b[2J\x1b[H")
			return err
		},
	}
}

// editor is the terminal editor's state: the cursor (code points into
// the device's text) and the status line.
type editor struct {
	d      *client.Doc
	out    io.Writer
	doc    string
	cursor int
	status string
	sent   int // the cursor last given to SetSelection (-1: none)
}

func (e *editor) run(ctx context.Context, in io.Reader, size func() (int, int)) error {
	keys := make(chan []byte)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := in.Read(buf)
			if err != nil {
				close(keys)
				return
			}
			keys <- append([]byte(nil), buf[:n]...)
		}
	}()
	reconnected := make(chan error, 1)
	e.draw(size())
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-e.d.Updates():
			e.cursor = moveCursor(e.cursor, u.Op)
		case <-e.d.PresenceUpdates():
		case err := <-reconnected:
			e.status = "online"
			if err != nil {
				e.status = "offline: " + err.Error()
			}
		case k, ok := <-keys:
			if !ok {
				return nil
			}
			quit, err := e.key(ctx, k, reconnected)
			if err != nil {
				e.status = err.Error()
			}
			if quit {
				return nil
			}
			if e.cursor != e.sent {
				e.sent = e.cursor
				_ = e.d.SetSelection(client.Selection{Anchor: e.cursor, Head: e.cursor})
			}
		}
		e.draw(size())
	}
}

// key handles one read of input bytes.
func (e *editor) key(ctx context.Context, k []byte, reconnected chan<- error) (quit bool, err error) {
	for len(k) > 0 {
		switch {
		case k[0] == 0x11: // Ctrl-Q
			return true, nil
		case k[0] == 0x0f: // Ctrl-O
			if e.d.Online() {
				e.d.Disconnect()
				e.status = "offline (edits kept)"
			} else {
				e.status = "connecting..."
				go func() { reconnected <- e.d.Connect(ctx) }()
			}
			k = k[1:]
		case len(k) >= 2 && k[0] == 0x1b && (k[1] == '[' || k[1] == 'O'):
			// A CSI/SS3 sequence: parameters, then a final byte in 0x40-0x7e.
			i := 2
			for i < len(k) && (k[i] < 0x40 || k[i] > 0x7e) {
				i++
			}
			if i < len(k) {
				err = e.control(string(k[2:i]), k[i])
				i++
			}
			k = k[i:]
		case k[0] == 0x7f || k[0] == 0x08: // Backspace
			if e.cursor > 0 {
				err = e.splice(e.cursor-1, 1, "")
				e.cursor--
			}
			k = k[1:]
		case k[0] == 0x04: // Ctrl-D: delete at the cursor
			err = e.splice(e.cursor, 1, "")
			k = k[1:]
		case k[0] == '\r' || k[0] == '\n':
			err = e.splice(e.cursor, 0, "\n")
			e.cursor++
			k = k[1:]
		case k[0] < 0x20 || k[0] == 0x1b:
			k = k[1:]
		default:
			r, n := utf8.DecodeRune(k)
			k = k[n:]
			if r == utf8.RuneError {
				continue
			}
			err = e.splice(e.cursor, 0, string(r))
			e.cursor++
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// splice deletes del code points at pos and inserts ins, clamped to the
// text as it is when the edit applies.
func (e *editor) splice(pos, del int, ins string) error {
	return e.d.EditFunc(func(n int) ([]ot.Op, error) {
		pos = min(max(pos, 0), n)
		del = min(del, n-pos)
		if del == 0 && ins == "" {
			return nil, nil
		}
		op, err := ot.FromPatch(n, pos, del, ins)
		return []ot.Op{op}, err
	})
}

// control handles a terminal control sequence: arrows, Home, End, Delete.
func (e *editor) control(params string, final byte) error {
	switch {
	case final == '~' && params == "3":
		return e.splice(e.cursor, 1, "")
	case final == 'H' || (final == '~' && (params == "1" || params == "7")):
		e.arrow('H')
	case final == 'F' || (final == '~' && (params == "4" || params == "8")):
		e.arrow('F')
	case final >= 'A' && final <= 'D':
		e.arrow(final)
	}
	return nil
}

func (e *editor) arrow(c byte) {
	text := []rune(e.d.Text())
	e.cursor = min(max(e.cursor, 0), len(text))
	lineStart := func(p int) int {
		for p > 0 && text[p-1] != '\n' {
			p--
		}
		return p
	}
	switch c {
	case 'H':
		e.cursor = lineStart(e.cursor)
	case 'F':
		for e.cursor < len(text) && text[e.cursor] != '\n' {
			e.cursor++
		}
	case 'C':
		e.cursor = min(e.cursor+1, len(text))
	case 'D':
		e.cursor = max(e.cursor-1, 0)
	case 'A', 'B':
		start := lineStart(e.cursor)
		col := e.cursor - start
		var target int
		if c == 'A' {
			if start == 0 {
				return
			}
			target = lineStart(start - 1)
		} else {
			end := start
			for end < len(text) && text[end] != '\n' {
				end++
			}
			if end == len(text) {
				return
			}
			target = end + 1
		}
		p := target
		for p < len(text) && p-target < col && text[p] != '\n' {
			p++
		}
		e.cursor = p
	}
}

// moveCursor moves a cursor through a remote op: inserts before it (or at
// it) push it right, deletes before or around it pull it left.
func moveCursor(cursor int, op ot.Op) int { return ot.TransformIndex(op, cursor, true) }

// draw repaints the screen: the text (wrapped to the width), a status line.
func (e *editor) draw(width, height int) {
	text := []rune(e.d.Text())
	e.cursor = min(max(e.cursor, 0), len(text))
	width = max(width, 10)
	peers := e.d.Presence()
	carets := map[int]string{} // position -> the background colour of a member's caret there
	var names []string
	for _, p := range peers {
		bg := ansiBackground(p.Color)
		carets[p.Sel.Head] = bg
		names = append(names, bg+" "+p.Name+" \x1b[0m\x1b[7m")
	}
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	row, col, crow, ccol := 0, 0, 0, 0
	for i, r := range text {
		if i == e.cursor {
			crow, ccol = row, col
		}
		if r == '\n' || col == width {
			if bg, ok := carets[i]; ok && r == '\n' {
				b.WriteString(bg + " \x1b[0m") // a caret at the end of a line
			}
			b.WriteString("\r\n")
			row, col = row+1, 0
			if r == '\n' {
				continue
			}
		}
		if bg, ok := carets[i]; ok {
			b.WriteString(bg + string(r) + "\x1b[0m")
		} else {
			b.WriteRune(r)
		}
		col++
	}
	if bg, ok := carets[len(text)]; ok {
		b.WriteString(bg + " \x1b[0m")
	}
	if e.cursor == len(text) {
		crow, ccol = row, col
	}
	state := "offline"
	if e.d.Online() {
		state = "online"
	}
	if e.d.Pending() {
		state += ", sending"
	}
	others := ""
	if len(names) > 0 {
		others = " | " + strings.Join(names, " ")
	}
	fmt.Fprintf(&b, "\x1b[%d;1H\x1b[7m %s | %s | v%d%s | %s | Ctrl-O offline/online, Ctrl-Q quit \x1b[0m",
		height, e.doc[:min(8, len(e.doc))], state, e.d.Version(), others, e.status)
	fmt.Fprintf(&b, "\x1b[%d;%dH", crow+1, ccol+1)
	_, _ = io.WriteString(e.out, b.String())
}

// ansiBackground turns a "#rrggbb" colour into a 24-bit background escape.
func ansiBackground(hex string) string {
	var r, g, b uint8
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b); err != nil {
		return "\x1b[45m" // magenta
	}
	return fmt.Sprintf("\x1b[48;2;%d;%d;%dm", r, g, b)
}
