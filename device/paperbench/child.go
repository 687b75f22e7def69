package paperbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/direct"
	"github.com/clone2clone/c2c/device/energy"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// childConfig is the first line the parent writes to a device process.
type childConfig struct {
	Mode      device.Mode `json:"mode"`
	Index     int         `json:"index"`
	Key       []byte      `json:"key"`                 // marshalled libp2p private key
	HPKEPriv  []byte      `json:"hpke_priv,omitempty"` // direct mode: the engine's HPKE key
	User      string      `json:"user,omitempty"`      // clone mode: the owner's user ID
	CloneAddr string      `json:"clone_addr,omitempty"`
	Peers     []string    `json:"peers,omitempty"` // direct mode: sequencers and admin
	Docs      [2]string   `json:"docs"`            // the edited document, the forked one
	Data      string      `json:"data"`
	Seed      uint64      `json:"seed"`
}

// window is what a device measured since MARK.
type window struct {
	BytesUp   int64           `json:"bytes_up"`
	BytesDown int64           `json:"bytes_down"`
	CPU       time.Duration   `json:"cpu_ns"`
	Crypto    device.Crypto   `json:"crypto"`
	Start     int64           `json:"start_unix_ns"`
	Timeline  []energy.Packet `json:"timeline"`
	Sent      []tokenAt       `json:"sent"` // this device's tokens and when it typed them
	Seen      []tokenAt       `json:"seen"` // others' tokens and when they reached this device's text
}

type tokenAt struct {
	Token rune  `json:"t"`
	At    int64 `json:"at"` // unix ns
}

// A token is one code point of the Supplementary Private Use Area-A,
// unique per (device, edit), so that an edit is found in the text by its
// rune and its delivery time measured.
const tokenBase = 0xF0000

func token(dev, n int) rune { return rune(tokenBase + dev<<12 + n%4096) }
func isToken(r rune) bool   { return r >= tokenBase && r < tokenBase+16<<12 }

// RunChild is a device process: it reads its configuration and then
// commands from in, one a line, and answers each on out ("OK ...", "ERR
// ...", or a report as one JSON line).
func RunChild(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(line), &cfg); err != nil {
		return fmt.Errorf("device process: config: %w", err)
	}
	d, err := startDevice(&cfg, out)
	if err != nil {
		return err
	}
	defer d.close()
	fmt.Fprintln(out, "READY")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		reply, quit := d.command(strings.Fields(line))
		fmt.Fprintln(out, reply)
		if quit {
			return nil
		}
	}
}

// dev is one device process's state.
type dev struct {
	cfg    *childConfig
	h      host.Host
	meter  *device.Meter
	tl     *timeline
	docs   [2]device.Doc
	cloneA *client.Doc // clone mode: the edited document's link
	eng    *cloneservice.Service
	ids    [2]docsync.DocID
	rng    *rand.Rand
	typed  int
	closer []func()

	changed chan struct{} // a remote update arrived (direct mode)
	mu      sync.Mutex
	start   time.Time
	before  device.Snapshot
	sent    []tokenAt
	seen    []tokenAt
	known   map[rune]bool
}

func startDevice(cfg *childConfig, out io.Writer) (_ *dev, err error) {
	key, err := crypto.UnmarshalPrivateKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	d := &dev{cfg: cfg, meter: device.NewMeter(cfg.Mode), known: map[rune]bool{},
		rng: rand.New(rand.NewPCG(cfg.Seed, 1)), changed: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	for i, s := range cfg.Docs {
		if d.ids[i], err = parseDoc(s); err != nil {
			return nil, err
		}
	}
	d.tl = newTimeline(d.meter.Reporter())
	// A device that comes back (phase 2) is measured from its start: its
	// window opens before its host does.
	d.mark()
	d.h, err = libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"),
		libp2p.BandwidthReporter(d.tl))
	if err != nil {
		return nil, err
	}
	d.closer = append(d.closer, func() { d.h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	switch cfg.Mode {
	case device.ModeClone:
		err = d.openClone(ctx)
	case device.ModeDirect:
		err = d.openDirect(ctx, key, out)
	default:
		err = fmt.Errorf("device process: mode %q", cfg.Mode)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dev) openClone(ctx context.Context) error {
	clone, err := addrInfo(d.cfg.CloneAddr)
	if err != nil {
		return err
	}
	user, err := peer.Decode(d.cfg.User)
	if err != nil {
		return err
	}
	c, err := client.New(d.h, clone, user, "phone", client.WithStateDir(filepath.Join(d.cfg.Data, "state")), client.WithLogger(quiet()))
	if err != nil {
		return err
	}
	d.closer = append(d.closer, func() { c.Close() })
	for i, id := range d.ids {
		cd, err := c.Open(ctx, id)
		if err != nil {
			return err
		}
		d.docs[i] = cd
		if i == 0 {
			d.cloneA = cd
			go func() {
				for u := range cd.Updates() {
					d.observe(u.Op)
				}
			}()
		}
	}
	return nil
}

// openDirect runs the clone engine on the device: it dials the sequencers
// and the admin, says ENGINE with its address so the parent can invite it,
// and waits until it is a member of both documents.
func (d *dev) openDirect(ctx context.Context, key crypto.PrivKey, out io.Writer) error {
	id, err := cloneservice.IdentityFromKeys(key, d.cfg.HPKEPriv)
	if err != nil {
		return err
	}
	ps, err := pubsub.NewGossipSub(context.Background(), d.h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxControlMessageSize(netproto.GossipMaxControlBytes))
	if err != nil {
		return err
	}
	ds, err := pebbleds.NewDatastore(filepath.Join(d.cfg.Data, "datastore"))
	if err != nil {
		return err
	}
	d.closer = append(d.closer, func() { ds.Close() })
	svc, err := cloneservice.New(d.h, ps, ds, id, cloneservice.WithLogger(quiet()),
		cloneservice.WithInvitePolicy(cloneservice.AcceptAll))
	if err != nil {
		return err
	}
	d.eng = svc
	d.closer = append(d.closer, func() { svc.Close() })
	d.meter.CountEngine(svc.Stats)
	if err := d.dialPeers(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "ENGINE %s/p2p/%s\n", d.h.Addrs()[0], d.h.ID())
	for i, doc := range d.ids {
		if err := poll(ctx, "membership", func() bool {
			in, err := svc.Info(doc)
			return err == nil && in.Role != 0 && in.Missing == [2]uint64{} && in.Seq > 0
		}); err != nil {
			return err
		}
		dd, err := direct.Open(svc, doc)
		if err != nil {
			return err
		}
		d.docs[i] = dd
		if i == 0 {
			go func() {
				for op := range dd.Updates() {
					d.observe(op)
					select {
					case d.changed <- struct{}{}:
					default:
					}
				}
			}()
		}
	}
	return nil
}

func (d *dev) dialPeers(ctx context.Context) error {
	for _, a := range d.cfg.Peers {
		ai, err := addrInfo(a)
		if err != nil {
			return err
		}
		if err := d.h.Connect(ctx, ai); err != nil {
			return err
		}
	}
	return nil
}

// observe records the first time each other device's token reached the
// text.
func (d *dev) observe(op ot.Op) {
	now := time.Now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range op.Comps {
		for _, r := range c.Text {
			if isToken(r) && !d.known[r] {
				d.known[r] = true
				d.seen = append(d.seen, tokenAt{r, now})
			}
		}
	}
}

func (d *dev) close() {
	for i := len(d.closer) - 1; i >= 0; i-- {
		d.closer[i]()
	}
}

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
		for _, a := range f[1:] {
			var ai peer.AddrInfo
			if ai, err = addrInfo(a); err == nil {
				err = d.h.Connect(ctx, ai)
			}
			if err != nil {
				break
			}
		}
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
