package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/spf13/cobra"
)

// streamLine is one line c2c device stream prints (JSON, one a line).
type streamLine struct {
	Ready  bool   `json:"ready,omitempty"` // the document is open; edits may come
	Remote bool   `json:"remote,omitempty"`
	Typed  int    `json:"typed,omitempty"` // patches just typed (written together)
	Ins    string `json:"ins,omitempty"`   // the text a remote change inserted
	Del    int    `json:"del,omitempty"`   // the code points it deleted
	Len    int    `json:"len"`             // the text's length after it, in code points
	// At exit:
	Done       bool    `json:"done,omitempty"`
	Edits      int     `json:"edits,omitempty"`   // patches typed
	Commits    int     `json:"commits,omitempty"` // state writes that carried them
	CPUMs      float64 `json:"cpu_ms,omitempty"`  // this process's CPU since the document opened
	LinkOut    int64   `json:"link_bytes_out,omitempty"`
	LinkIn     int64   `json:"link_bytes_in,omitempty"`
	Matches    bool    `json:"matches,omitempty"` // the text equals --until's file
	UpdatesGot int     `json:"updates,omitempty"`
}

func newDeviceStreamCmd(g *globals) *cobra.Command {
	var until string
	cmd := &cobra.Command{
		Use:   "stream DOC [--until FILE]",
		Short: `Type edits from stdin as they arrive (one JSON patch a line) and print every remote change as a JSON line`,
		Long: `stream is the device for another program: it reads JSON patches from stdin,
one a line ({"pos":0,"del":1,"ins":"x"}), and types each as it arrives, as
one keystroke: applied at once, persisted and sent to the clone. Patches
that arrive while the previous write is still going to disk are written
together (one state write, one edit on the link), as an editor does with
fast typing. It prints one JSON line when the document is open
({"ready":true,...}), one for every remote change ({"remote":true,"ins":...,
"del":...,"len":...}), one for every write of typed patches ({"typed":N,
"len":...}) and, at the end, one with what the device spent
({"done":true,"cpu_ms":...,"link_bytes_out":...}).

It ends when stdin ends and every edit is acknowledged by the clone; with
--until FILE, only once the text also equals FILE's content (every other
user's edits have arrived).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var want *string
			if until != "" {
				b, err := os.ReadFile(until)
				if err != nil {
					return err
				}
				s := string(b)
				want = &s
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
			st := &deviceStream{d: d, out: json.NewEncoder(g.stdout), want: want}
			return st.run(cmd, cmd.InOrStdin(), s.meter)
		},
	}
	cmd.Flags().StringVar(&until, "until", "", "also wait until the text equals this file's content")
	return cmd
}

// deviceStream is one run of c2c device stream.
type deviceStream struct {
	d       *client.Doc
	out     *json.Encoder
	mu      sync.Mutex // out
	want    *string
	length  int // the text's length in code points, kept from the ops
	edits   int
	commits int
	updates int
}

func (s *deviceStream) print(l streamLine) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Encode(l)
}

// maxStreamBatch bounds the patches written together.
const maxStreamBatch = 1 << 16

func (s *deviceStream) run(cmd *cobra.Command, in io.Reader, meter *device.Meter) error {
	ctx := cmd.Context()
	cpu0 := meter.Snapshot()
	s.length = utf8.RuneCountInString(s.d.Text())
	if err := s.print(streamLine{Ready: true, Len: s.length}); err != nil {
		return err
	}
	lines := make(chan patch, maxStreamBatch)
	readErr := make(chan error, 1)
	go func() { readErr <- readPatches(in, lines) }()
	eof := false
	for {
		if eof && s.satisfied() {
			break
		}
		var batch []patch
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					return err
				}
				eof, lines = true, nil
				continue
			}
			batch = append(batch, p)
		drain:
			for len(batch) < maxStreamBatch {
				select {
				case q, ok := <-lines:
					if !ok {
						break drain // seen as EOF on the next turn
					}
					batch = append(batch, q)
				default:
					break drain
				}
			}
			if err := s.typeBatch(batch); err != nil {
				return err
			}
		case u := <-s.d.Updates():
			if err := s.remote(u); err != nil {
				return err
			}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, deviceSyncTimeout)
	defer cancel()
	if err := s.d.WaitSynced(wctx); err != nil {
		return err
	}
	snap := meter.Snapshot()
	cpu := (snap.CPUUser + snap.CPUSystem) - (cpu0.CPUUser + cpu0.CPUSystem)
	return s.print(streamLine{Done: true, Len: s.length, Edits: s.edits, Commits: s.commits, UpdatesGot: s.updates,
		CPUMs: float64(cpu) / float64(time.Millisecond), LinkOut: snap.TotalOut - cpu0.TotalOut, LinkIn: snap.TotalIn - cpu0.TotalIn,
		Matches: s.want != nil && s.d.Text() == *s.want})
}

// satisfied: with --until, the text equals the file (checked only when
// the lengths agree, so a long text is not compared on every change).
func (s *deviceStream) satisfied() bool {
	if s.want == nil {
		return true
	}
	return s.length == utf8.RuneCountInString(*s.want) && s.d.Text() == *s.want
}

// typeBatch types the patches as keystrokes written together.
func (s *deviceStream) typeBatch(batch []patch) error {
	err := s.d.EditFunc(func(l int) ([]ot.Op, error) {
		ops := make([]ot.Op, 0, len(batch))
		for _, p := range batch {
			op, err := ot.FromPatch(l, p.Pos, p.Del, p.Ins)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", p.line, err)
			}
			ops = append(ops, op)
			l = op.TargetLen
		}
		s.length = l
		return ops, nil
	})
	if err != nil {
		return err
	}
	s.edits += len(batch)
	s.commits++
	return s.print(streamLine{Typed: len(batch), Len: s.length})
}

func (s *deviceStream) remote(u client.Update) error {
	s.updates++
	s.length = u.Op.TargetLen
	var ins strings.Builder
	del := 0
	for _, c := range u.Op.Comps {
		switch c.Kind {
		case ot.Insert:
			ins.WriteString(c.Text)
		case ot.Delete:
			del += c.N
		}
	}
	return s.print(streamLine{Remote: true, Ins: ins.String(), Del: del, Len: s.length})
}

// readPatches sends stdin's patches to out, closing it at EOF.
func readPatches(in io.Reader, out chan<- patch) error {
	defer close(out)
	return scanPatches(in, 1<<20, func(p patch) error { out <- p; return nil })
}

// scanPatches reads one JSON patch per line of in (empty lines skipped,
// each line at most maxLine bytes) and hands each to f, numbered by line.
func scanPatches(in io.Reader, maxLine int, f func(patch) error) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		p, err := decodePatch(sc.Bytes())
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		p.line = line
		if err := f(p); err != nil {
			return err
		}
	}
	return sc.Err()
}
