package paperbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// command runs one command line; quit says the process should end.
func (d *dev) command(f []string) (reply string, quit bool) {
	if len(f) == 0 {
		return "ERR empty command", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	extra := ""
	switch f[0] {
	case "MARK":
		d.mark()
	case "EDIT": // EDIT doc n sync|nosync
		err = d.edit(ctx, f)
	case "WAIT": // WAIT texthash: doc 0's text
		var at time.Time
		at, err = d.waitText(ctx, f)
		extra = fmt.Sprint(" ", at.UnixNano())
	case "HALTED": // direct mode: has the engine detected the fork on doc 1? (1 or 0)
		var in cloneservice.Info
		if d.eng == nil {
			err = errors.New("only a direct-mode device runs an engine")
		} else if in, err = d.eng.Info(d.ids[1]); err == nil {
			extra = " 0"
			if in.Halted != nil {
				extra = " 1"
			}
		}
	case "EPOCH": // EPOCH e: direct mode: doc 0 is at key epoch e or later
		var e uint64
		if len(f) > 1 {
			e, err = strconv.ParseUint(f[1], 10, 64)
		}
		if err == nil {
			err = d.waitInfo(ctx, 0, func(in cloneservice.Info) bool { return in.Epoch >= e })
		}
	case "CONNECT": // CONNECT addr...: direct mode: the other members' engines
		err = connectAll(ctx, d.h, f[1:])
	case "REPORT":
		b, err := json.Marshal(d.report())
		if err != nil {
			return "ERR " + err.Error(), false
		}
		return string(b), false
	case "QUIT":
		return "OK", true
	default:
		err = fmt.Errorf("unknown command %q", f[0])
	}
	if err != nil {
		return "ERR " + strings.ReplaceAll(err.Error(), "\n", " "), false
	}
	return "OK" + extra, false
}

func (d *dev) mark() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.start = d.tl.reset()
	d.before = d.meter.Snapshot()
	d.sent, d.seen = nil, nil
}

func (d *dev) report() window {
	after := d.meter.Snapshot()
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.before
	return window{BytesUp: after.TotalOut - b.TotalOut, BytesDown: after.TotalIn - b.TotalIn,
		CPU: after.CPUUser + after.CPUSystem - b.CPUUser - b.CPUSystem,
		Crypto: device.Crypto{Signs: after.Crypto.Signs - b.Crypto.Signs, Verifies: after.Crypto.Verifies - b.Crypto.Verifies,
			AEADSeals: after.Crypto.AEADSeals - b.Crypto.AEADSeals, AEADOpens: after.Crypto.AEADOpens - b.Crypto.AEADOpens},
		Start: d.start.UnixNano(), Timeline: d.tl.packets(), Sent: d.sent, Seen: d.seen}
}

// edit types n tokens into a document at random positions, at a typing
// pace of 5-15 ms a keystroke.
func (d *dev) edit(ctx context.Context, f []string) error {
	if len(f) != 4 {
		return errors.New("EDIT doc n sync|nosync")
	}
	doc, err1 := strconv.Atoi(f[1])
	n, err2 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2); err != nil || doc < 0 || doc > 1 {
		return fmt.Errorf("EDIT %v: %w", f[1:], err)
	}
	sync := f[3] == "sync"
	for range n {
		tok := token(d.cfg.Index, d.typed)
		d.typed++
		pos := d.rng.Float64()
		d.mu.Lock()
		d.sent = append(d.sent, tokenAt{tok, time.Now().UnixNano()})
		d.known[tok] = true
		d.mu.Unlock()
		build := func(l int) ([]ot.Op, error) {
			op, err := ot.FromPatch(l, int(pos*float64(l+1))%(l+1), 0, string(tok))
			return []ot.Op{op}, err
		}
		var err error
		if d.eng != nil && !sync {
			// On a document that may stop (the fork), bound each edit: an
			// engine can be busy with the alarm.
			ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = d.eng.EditFunc(ectx, d.ids[doc], build)
			cancel()
		} else {
			err = d.docs[doc].EditFunc(build)
		}
		if err != nil {
			if sync {
				return err
			}
			return nil // the document stopped: the round is over
		}
		time.Sleep(time.Duration(5+d.rng.IntN(10)) * time.Millisecond) // typing pace, not synchronization
	}
	if !sync {
		return nil
	}
	return d.docs[doc].WaitSynced(ctx)
}

func (d *dev) waitText(ctx context.Context, f []string) (time.Time, error) {
	if len(f) != 2 {
		return time.Time{}, errors.New("WAIT hash")
	}
	want := f[1]
	match := func(s string) bool { return textHash(s) == want }
	if d.cloneA != nil {
		err := d.cloneA.WaitText(ctx, match)
		return time.Now(), err
	}
	for !match(d.docs[0].Text()) {
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-d.changed:
		case <-time.After(50 * time.Millisecond): // updates may have been coalesced
		}
	}
	return time.Now(), nil
}

func (d *dev) waitInfo(ctx context.Context, doc int, cond func(cloneservice.Info) bool) error {
	if d.eng == nil {
		return errors.New("only a direct-mode device runs an engine")
	}
	return poll(ctx, "engine state", func() bool {
		in, err := d.eng.Info(d.ids[doc])
		return err == nil && cond(in)
	})
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ChildMain is a device process's main: stdin and stdout are its pipe to
// the parent.
func ChildMain() error { return RunChild(os.Stdin, os.Stdout) }
