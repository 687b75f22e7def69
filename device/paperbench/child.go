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
	"github.com/clone2clone/c2c/internal/reconnect"
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
	LogLevel  string      `json:"log_level,omitempty"` // "": log nothing
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
	log    *slog.Logger
	rw     *reconnect.Watcher

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
	log, err := childLogger(cfg)
	if err != nil {
		return nil, err
	}
	d := &dev{cfg: cfg, log: log, meter: device.NewMeter(cfg.Mode), known: map[rune]bool{},
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
	if d.rw, err = reconnect.Watch(d.h, reconnect.DefaultParams(), d.log); err != nil {
		return nil, err
	}
	d.closer = append(d.closer, func() { d.rw.Close() })
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
	c, err := client.New(d.h, clone, user, "phone", client.WithStateDir(filepath.Join(d.cfg.Data, "state")), client.WithLogger(d.log))
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
	ps, err := pubsub.NewGossipSub(context.Background(), d.h, append(netproto.GossipOptions(), d.rw.Gossip())...)
	if err != nil {
		return err
	}
	ds, err := pebbleds.NewDatastore(filepath.Join(d.cfg.Data, "datastore"))
	if err != nil {
		return err
	}
	d.closer = append(d.closer, func() { ds.Close() })
	svc, err := cloneservice.New(d.h, ps, ds, id, cloneservice.WithLogger(d.log),
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

func (d *dev) dialPeers(ctx context.Context) error { return connectAll(ctx, d.h, d.cfg.Peers) }

// connectAll connects h to every address at once: a peer that still holds
// a dead connection from this identity's previous process answers only
// after it probed that one (internal/reconnect), and those waits overlap.
func connectAll(ctx context.Context, h host.Host, addrs []string) error {
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		ai, err := addrInfo(a)
		if err != nil {
			return err
		}
		wg.Go(func() { errs[i] = h.Connect(ctx, ai) })
	}
	wg.Wait()
	return errors.Join(errs...)
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

// childLogger is the device process's logger: cfg.LogLevel's events to
// stderr (the parent's), tagged with the device's index, or none.
func childLogger(cfg *childConfig) (*slog.Logger, error) {
	if cfg.LogLevel == "" {
		return quiet(), nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("device process: log level %q: %w", cfg.LogLevel, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("device", cfg.Index), nil
}

func (d *dev) close() {
	for i := len(d.closer) - 1; i >= 0; i-- {
		d.closer[i]()
	}
}
