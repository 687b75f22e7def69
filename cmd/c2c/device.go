package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"
)

// deviceConfig is what `c2c device connect` remembers in the device's data
// dir: how to reach its clone and who it is.
type deviceConfig struct {
	Clone string `json:"clone"` // /.../p2p/<clone ID>
	User  string `json:"user"`  // the user ID
	Name  string `json:"name"`  // the enrolled device name
	Key   string `json:"key"`   // the device key file (c2c enroll wrote it)
	// Provider is the provider whose directory connect looked the clone
	// up in (--provider), asked again when the clone no longer answers
	// at Clone: its provider may have migrated it.
	Provider string `json:"provider,omitempty"`
}

const deviceConfigFile = "device.json"

func newDeviceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Be a device (thin client) of your clone: edit documents through the device link",
		Long: `device runs the thin phone client in clone mode: its only peer is its own
clone, reached on /c2c/device/2.2.0 and authorized by the owner certificate
(the device key that c2c enroll wrote to <dir of user key>/devices/NAME.key).

Start with c2c device connect (remembered in --data), then show, type, apply,
sync, watch, stream or edit a document (its hex ID from c2c doc). Edits are applied
and persisted at once; with --offline they stay on the device and are sent,
exactly once, by the next command that connects (the clone answers a
reconnect with one catch-up bundle). c2c device stats prints what the device
spent: bytes per protocol, CPU time, signature and AEAD operations.`,
	}
	cmd.AddCommand(newDeviceConnectCmd(g), newDeviceShowCmd(g), newDeviceTypeCmd(g), newDeviceApplyCmd(g),
		newDeviceSyncCmd(g), newDeviceWatchCmd(g), newDeviceStreamCmd(g), newDeviceStatsCmd(g), newDeviceEditCmd(g),
		newDeviceMirrorCmd(g), newDeviceNotesCmd(g),
		newDeviceFilesCmd(g), newDeviceSendCmd(g), newDeviceInboxCmd(g), newDevicePullCmd(g), newDeviceOutboxCmd(g),
		newDeviceDownloadCmd(g), newDeviceDownloadsCmd(g), newDeviceConditionsCmd(g), newDeviceScanCmd(g),
		newDeviceWebCmd(g))
	return cmd
}

func newDeviceConnectCmd(g *globals) *cobra.Command {
	var cfg deviceConfig
	var provider string
	cmd := &cobra.Command{
		Use:   "connect (--clone ADDR | --provider ADDR) --user ID --name NAME --key FILE",
		Short: "Remember this device's clone and identity, and check the clone answers",
		Long: `connect remembers (in --data) which clone this device talks to and as whom,
and checks that the clone answers.

Give the clone's address with --clone, or give only a provider's address
with --provider: the device then looks itself up in that provider's
directory (the user lookup), checks the owner certificate it gets back
against your user key and against this device's key, asks the provider
where the clone it names is, and dials that clone. A provider can withhold
a certificate but cannot forge one, and the clone must prove the identity
the certificate names when dialed. The provider is remembered: when the
clone no longer answers at its address (its provider migrated it to
another), the next command looks it up there again and keeps the new
address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir("device")
			if err != nil {
				return err
			}
			if cfg.Clone == "" && provider != "" {
				if cfg.Clone, err = lookUpClone(cmd.Context(), g.stdout, provider, cfg); err != nil {
					return err
				}
				cfg.Provider = provider
			}
			s, err := openDevice(cmd.Context(), g, dir, &cfg)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.h.Connect(cmd.Context(), s.clone); err != nil {
				return fmt.Errorf("reach clone %s: %w", s.clone.ID, err)
			}
			if err := saveDeviceConfig(dir, &cfg); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "device %s (%s) of user %s -> clone %s: connected; saved in %s\n",
				cfg.Name, s.h.ID(), cfg.User, s.clone.ID, dir)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Clone, "clone", "", "the clone's multiaddr, ending in /p2p/<clone ID>")
	fl.StringVar(&provider, "provider", "", "instead of --clone: a provider's /p2p multiaddr, to look the clone up in its directory")
	fl.StringVar(&cfg.User, "user", "", "your user ID")
	fl.StringVar(&cfg.Name, "name", "", "the device name you enrolled")
	fl.StringVar(&cfg.Key, "key", "", "the device key file (from c2c enroll)")
	return cmd
}

// deviceSession is one device process: its host, client and meter.
type deviceSession struct {
	g     *globals
	dir   string
	cfg   *deviceConfig
	opts  []client.Option // the client's, kept for a relocation
	name  string          // the enrolled device name
	h     host.Host
	clone peer.AddrInfo
	c     *client.Client
	meter *device.Meter
	docs  []*client.Doc
}

// openDevice starts the device host from cfg (or the saved config when
// cfg is nil).
func openDevice(ctx context.Context, g *globals, dir string, cfg *deviceConfig, opts ...client.Option) (*deviceSession, error) {
	if cfg == nil {
		b, err := os.ReadFile(filepath.Join(dir, deviceConfigFile))
		if err != nil {
			return nil, fmt.Errorf("no device config in %s (run c2c device connect first): %w", dir, err)
		}
		cfg = &deviceConfig{}
		if err := json.Unmarshal(b, cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", deviceConfigFile, err)
		}
	}
	if cfg.Clone == "" || cfg.User == "" || cfg.Name == "" || cfg.Key == "" {
		return nil, errors.New("need --clone, --user, --name and --key")
	}
	addr, err := ma.NewMultiaddr(cfg.Clone)
	if err != nil {
		return nil, fmt.Errorf("--clone: %w", err)
	}
	clone, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("--clone must end in /p2p/<clone ID>: %w", err)
	}
	user, err := peer.Decode(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("--user: %w", err)
	}
	key, err := keystore.ReadPrivKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	meter := device.NewMeter(device.ModeClone)
	// A client-only host: no listener, no DHT, no gossipsub.
	h, err := libp2p.New(libp2p.Identity(key), libp2p.NoListenAddrs, meter.Option())
	if err != nil {
		return nil, err
	}
	c, err := newDeviceClient(g, h, *clone, user, cfg.Name, dir, opts)
	if err != nil {
		h.Close()
		return nil, err
	}
	if reg, err := g.metricsRegistry(ctx); err != nil {
		h.Close()
		return nil, err
	} else if reg != nil {
		if err := meter.Register(reg); err != nil {
			h.Close()
			return nil, err
		}
	}
	return &deviceSession{g: g, dir: dir, cfg: cfg, opts: opts, name: cfg.Name, h: h, clone: *clone, c: c, meter: meter}, nil
}

// newDeviceClient is the device's client of its clone at clone, its state
// under <dir>/docs.
func newDeviceClient(g *globals, h host.Host, clone peer.AddrInfo, user peer.ID, name, dir string, opts []client.Option) (*client.Client, error) {
	return client.New(h, clone, user, name, append([]client.Option{client.WithStateDir(filepath.Join(dir, "docs")),
		client.WithLogger(g.log)}, opts...)...)
}

func saveDeviceConfig(dir string, cfg *deviceConfig) error {
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return keystore.WriteFile(filepath.Join(dir, deviceConfigFile), b)
}

// relocate looks the clone up again in the remembered provider's
// directory and, if it is elsewhere now, points the session (before any
// document is open on it) and the saved config there. It reports
// whether the clone moved.
func (s *deviceSession) relocate(ctx context.Context) (bool, error) {
	if s.cfg.Provider == "" || len(s.docs) > 0 {
		return false, nil
	}
	addr, err := lookUpClone(ctx, io.Discard, s.cfg.Provider, *s.cfg)
	if err != nil || addr == s.cfg.Clone {
		return false, err
	}
	a, err := ma.NewMultiaddr(addr)
	if err != nil {
		return false, err
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return false, err
	}
	user, _ := peer.Decode(s.cfg.User) // checked by openDevice
	c, err := newDeviceClient(s.g, s.h, *ai, user, s.cfg.Name, s.dir, s.opts)
	if err != nil {
		return false, err
	}
	_ = s.c.Close()
	s.c, s.clone, s.cfg.Clone = c, *ai, addr
	fmt.Fprintf(s.g.stderr, "clone %s moved: now at %s (found in %s's directory; saved)\n", ai.ID, addr, s.cfg.Provider)
	return true, saveDeviceConfig(s.dir, s.cfg)
}

// deviceFromFlags opens the saved device.
func deviceFromFlags(cmd *cobra.Command, g *globals) (*deviceSession, error) {
	dir, err := g.dataDir("device")
	if err != nil {
		return nil, err
	}
	return openDevice(cmd.Context(), g, dir, nil)
}

// open opens doc, connecting unless offline.
func (s *deviceSession) open(ctx context.Context, docHex string, offline bool) (*client.Doc, error) {
	var doc docsync.DocID
	if b, err := hex.DecodeString(docHex); err != nil || len(b) != len(doc) {
		return nil, fmt.Errorf("document ID %q: want %d hex bytes", docHex, len(doc))
	}
	_, _ = hex.Decode(doc[:], []byte(docHex))
	var d *client.Doc
	var err error
	if offline {
		d, err = s.c.Load(doc)
	} else if d, err = s.c.Open(ctx, doc); err != nil && !errors.Is(err, client.ErrRefused) {
		// The clone may have moved to another provider.
		if moved, rerr := s.relocate(ctx); moved && rerr == nil {
			d, err = s.c.Open(ctx, doc)
		}
	}
	if err != nil {
		return nil, err
	}
	s.docs = append(s.docs, d)
	return d, nil
}

// close records this process's accounting and stops the host.
func (s *deviceSession) close() {
	snap := s.meter.Snapshot()
	var link client.Stats
	for _, d := range s.docs {
		st := d.Stats()
		link.Bundles += st.Bundles
		link.LastBundleBytes = st.LastBundleBytes
		link.BytesSent += st.BytesSent
		link.BytesReceived += st.BytesReceived
		link.EditsSent += st.EditsSent
		link.Ops += st.Ops
		link.Acks += st.Acks
	}
	_ = s.c.Close()
	_ = s.h.Close()
	if err := addDeviceStats(s.dir, snap, link); err != nil {
		s.g.log.Warn("device stats not saved", "err", err)
	}
}
