package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/builtin"
	"github.com/clone2clone/c2c/replication/devicexfer"
	"github.com/clone2clone/c2c/replication/notes"
	"github.com/clone2clone/c2c/replication/syncclient"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

// deviceMirrorDir is the sync client's datastore in the device's data dir.
const deviceMirrorDir = "mirror"

// mirrorFlags are the sync client's settings: they fix a new mirror epoch
// at the device's first sync ("at boot"); later runs keep them.
type mirrorFlags struct {
	syncInterval time.Duration
	maxDelay     time.Duration
	timeout      time.Duration
	offline      bool
	quiet        bool
}

func (f *mirrorFlags) add(cmd *cobra.Command) {
	f.addSync(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.offline, "offline", false, "keep the inputs on the device; the next command that connects sends them")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bars (they show only when stdout is a terminal)")
}

// addSync adds the sync client's settings alone (a command that is always
// online and shows no progress bars).
func (f *mirrorFlags) addSync(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.DurationVar(&f.syncInterval, "sync-interval", time.Second, "t_syn_int for a new mirror epoch: the device sends a batch this often")
	fl.DurationVar(&f.maxDelay, "max-delay", 100*time.Millisecond, "t_max for a new mirror epoch: the mirror replays a batch this long after it closed")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the clone to hold and replay the device's batches")
}

// mirrorSession is a device process running the sync client.
type mirrorSession struct {
	dev   *deviceSession
	ds    *pebbleds.Datastore
	c     *syncclient.Client
	blobs *boxostore.Store // the store the device's apps keep their blobs in
}

// xfer is the device's side of big files: uploads, sends and pulls.
func (m *mirrorSession) xfer() *devicexfer.Device {
	return &devicexfer.Device{Client: m.c, Host: m.dev.h, Clone: m.dev.clone.ID, Store: m.blobs}
}

func openMirror(cmd *cobra.Command, g *globals, f *mirrorFlags) (*mirrorSession, error) {
	s, err := deviceFromFlags(cmd, g)
	if err != nil {
		return nil, err
	}
	m, err := openMirrorOn(cmd.Context(), g, s, f)
	if err != nil {
		s.close()
		return nil, err
	}
	return m, nil
}

// openMirrorOn starts the sync client on an open device session (which
// stays open if this fails).
func openMirrorOn(ctx context.Context, g *globals, s *deviceSession, f *mirrorFlags) (*mirrorSession, error) {
	var cfg deviceConfig
	b, err := os.ReadFile(filepath.Join(s.dir, deviceConfigFile))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return nil, err
	}
	user, err := peer.Decode(cfg.User)
	if err != nil {
		return nil, err
	}
	ds, err := pebbleds.NewDatastore(filepath.Join(s.dir, deviceMirrorDir))
	if err != nil {
		return nil, err
	}
	blobs := boxostore.New(ds)
	c, err := syncclient.New(ctx, s.h, s.clone, ds, builtin.Registry(blobs), syncclient.Config{User: user, Device: cfg.Name,
		Apps: builtin.Apps, SyncInterval: f.syncInterval, MaxDelay: f.maxDelay}, syncclient.WithLogger(g.log))
	if err != nil {
		_ = ds.Close()
		return nil, err
	}
	m := &mirrorSession{dev: s, ds: ds, c: c, blobs: blobs}
	if !f.offline {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		if err := c.Connect(ctx); err != nil {
			m.closeMirror()
			return nil, err
		}
	}
	return m, nil
}

// sync waits until the clone holds and replayed every batch (unless offline).
func (m *mirrorSession) sync(ctx context.Context, f *mirrorFlags) error {
	if f.offline {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return m.c.Wait(ctx, syncclient.Synced)
}

func (m *mirrorSession) close() {
	m.closeMirror()
	m.dev.close()
}

// closeMirror stops the sync client and leaves the device session open.
func (m *mirrorSession) closeMirror() {
	_ = m.c.Close()
	_ = m.ds.Close()
}

func newDeviceMirrorCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Sync with the clone's mirror and show it: t_syn_int, the last batch, the lag, whether the state hashes match",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			serr := m.sync(cmd.Context(), &f)
			st, err := m.c.Status(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "t_syn_int %d ms, t_max %d ms, apps %v\n", st.Settings.SyncMs, st.Settings.MaxDelay, st.Settings.Apps)
			fmt.Fprintf(g.stdout, "last batch %d (clone holds %d, %d unsent), %d network inputs consumed\n", st.Number, st.Acked, st.Unacked, st.LastNet)
			if st.Replays > 0 {
				fmt.Fprintf(g.stdout, "last replay: batch %d, lag %d ms (bound t_syn_int+t_max = %d ms)\n", st.Replayed.Number, st.Replayed.LagMs, st.Settings.SyncMs+st.Settings.MaxDelay)
			} else {
				fmt.Fprintf(g.stdout, "last replay: batch %d (replayed before this run; c2c mirror show has the lag)\n", st.Replayed.Number)
			}
			fmt.Fprintf(g.stdout, "state hashes match: %v (device %x)\n", st.Match, st.DeviceHash[:8])
			return serr
		},
	}
	f.add(cmd)
	return cmd
}

func newDeviceNotesCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	cmd := &cobra.Command{
		Use:   "notes put KEY VALUE | get KEY | ls",
		Short: "Use the mirrored notes app: each change is a user input the clone's mirror replays",
		Args:  cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			switch {
			case args[0] == "put" && len(args) == 3:
				if _, err := m.c.Input(ctx, notes.Name, notes.Put(args[1], []byte(args[2]))); err != nil {
					return err
				}
				return m.sync(ctx, &f)
			case args[0] == "get" && len(args) == 2:
				var v []byte
				var ok bool
				_ = m.c.View(ctx, func(s *replication.AppSet) { v, ok = notesApp(s).Get(args[1]) })
				if !ok {
					return fmt.Errorf("no note %q", args[1])
				}
				fmt.Fprintln(g.stdout, string(v))
				return nil
			case args[0] == "ls" && len(args) == 1:
				var keys []string
				_ = m.c.View(ctx, func(s *replication.AppSet) { keys = notesApp(s).Keys() })
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintln(g.stdout, k)
				}
				return nil
			}
			return fmt.Errorf("usage: %s", cmd.Use)
		},
	}
	f.add(cmd)
	return cmd
}

func notesApp(s *replication.AppSet) *notes.App {
	a, _ := s.App(notes.Name)
	return a.(*notes.App)
}
