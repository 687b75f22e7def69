package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/builtin"
	"github.com/clone2clone/c2c/replication/deliver"
	"github.com/clone2clone/c2c/replication/downloader"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/clone2clone/c2c/replication/mirrormetrics"
	"github.com/clone2clone/c2c/replication/mirrorservice"
	"github.com/clone2clone/c2c/replication/scanwire"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/spf13/cobra"
)

// mirrorStatusFile is where a running clone writes its mirror's status
// every second, for c2c mirror show while the clone holds its datastore.
const mirrorStatusFile = "mirror.json"

// cloneMirror is a clone's mirror: the replay server, the delivery
// service of its outbox and inbox, blob transfers and the downloader.
type cloneMirror struct {
	srv  *mirrorservice.Server
	dl   *deliver.Service
	bx   *blobxfer.Server
	down *downloader.Service
	scan *scanwire.Arrival // nil when the clone has no provider to ask
	stop func() error
}

// scanPoll is how often a clone asks its provider for a newer signature
// database (a new version rescans the mirror).
const scanPoll = 10 * time.Minute

// startMirror serves the mirror's replay server (/c2c/mirror/1.0.0),
// clone-to-clone delivery (/c2c/mirror/deliver/1.0.0), blob transfers
// (/c2c/blob/1.0.0), download caching and the scan report on a clone, on
// the node's datastore, and keeps mirror.json fresh.
func startMirror(ctx context.Context, g *globals, n *node.Node, dataDir string, dlp downloader.Params) (func() error, error) {
	m, err := openCloneMirror(ctx, g.log, n, dataDir, mirrorConfig{metrics: true, downloads: dlp, statusEvery: time.Second})
	if err != nil {
		return nil, err
	}
	return m.stop, nil
}

// mirrorConfig is how openCloneMirror assembles a mirror.
type mirrorConfig struct {
	metrics   bool              // export the mirror's metrics (one mirror a registry)
	downloads downloader.Params // the downloader fetches the device's downloads under these
	// statusEvery is how often mirror.json is rewritten; 0: only when
	// the mirror replays, relays or notices something (hosted clones:
	// no timer per idle clone).
	statusEvery time.Duration
}

// openCloneMirror is startMirror, with more observers of the mirror (the
// demo's), assembled as mc says.
func openCloneMirror(ctx context.Context, log *slog.Logger, n *node.Node, dataDir string, mc mirrorConfig, extra ...mirrorservice.Observer) (*cloneMirror, error) {
	blobs := boxostore.New(n.Datastore())
	var closers []func() // in reverse on a failure, and by stop
	unwind := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	dl, err := deliver.New(n.Host(), n.Datastore(), n.OwnerCert(), blobs, n.Directory(), deliver.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("mirror delivery: %w", err)
	}
	closers = append(closers, func() { _ = dl.Close() })
	// Blobs: the device uploads and pulls them, recipients' clones pull
	// the files this clone's outbox names (deliver decides who).
	bx, err := blobxfer.New(n.Host(), blobs, n.OwnerCert(), blobxfer.WithAuthorizer(dl.Authorize), blobxfer.WithLogger(log))
	if err != nil {
		unwind()
		return nil, fmt.Errorf("blob transfers: %w", err)
	}
	closers = append(closers, func() { _ = bx.Close() })
	// Scan on arrival: the provider's engine, asked by this clone's
	// client; the files app is listed through the server's View.
	var srv *mirrorservice.Server
	list := scanwire.FilesLister(func(ctx context.Context, f func(*replication.AppSet)) error { return srv.View(ctx, f) })
	var arrival *scanwire.Arrival
	var scanner downloader.Scanner = downloader.EngineScanner{Engine: builtinScanEngine()}
	if boot := n.Bootstrap(); len(boot) > 0 {
		sc, err := scanwire.NewClient(ctx, n.Host(), boot[0].ID, n.Datastore(), blobs)
		if err != nil {
			unwind()
			return nil, fmt.Errorf("mirror scanner: %w", err)
		}
		arrival = scanwire.NewArrival(sc, list, log, scanPoll)
		closers = append(closers, func() { _ = arrival.Close() })
		stopReports := scanwire.ServeReports(n.Host(), n.OwnerCert().DeviceKey, sc, list, log)
		closers = append(closers, stopReports)
		scanner = providerScanner{sc}
	}
	// Downloads: fetched, kept in blobs, scanned (by the provider when the
	// clone has one), relayed as "file cached"; the device pulls them over
	// blobxfer and asks for progress.
	down, err := downloader.New(n.Datastore(), blobs, scanner, downloader.WithParams(mc.downloads), downloader.WithLogger(log))
	if err != nil {
		unwind()
		return nil, fmt.Errorf("downloads: %w", err)
	}
	closers = append(closers, func() { _ = down.Close() })
	observers := append([]mirrorservice.Observer{dl, down}, extra...)
	changed := make(statusKick, 1) // wakes the status writer when statusEvery is 0
	if mc.statusEvery == 0 {
		observers = append(observers, changed)
	}
	if arrival != nil {
		observers = append(observers, arrival)
	}
	if reg := n.Registerer(); reg != nil && mc.metrics {
		met, err := mirrormetrics.New(reg)
		if err != nil {
			unwind()
			return nil, fmt.Errorf("mirror metrics: %w", err)
		}
		observers = append(observers, met)
	}
	opts := []mirrorservice.Option{mirrorservice.WithLogger(log), mirrorservice.WithObserver(mirrorservice.Observers(observers...))}
	srv, err = mirrorservice.New(ctx, n.Host(), n.Datastore(), n.OwnerCert(), builtin.Registry(blobs), opts...)
	if err != nil {
		unwind()
		return nil, fmt.Errorf("mirror: %w", err)
	}
	dl.Start(srv)
	down.Start(srv)
	down.ServeProgress(n.Host(), n.OwnerCert().DeviceKey)
	closers = append(closers, func() { down.StopProgress(n.Host()) })
	if arrival != nil {
		arrival.Start(ctx)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var tick <-chan time.Time // nil: never
		if mc.statusEvery > 0 {
			t := time.NewTicker(mc.statusEvery)
			defer t.Stop()
			tick = t.C
		}
		for {
			if snap, err := srv.Snapshot(wctx); err == nil {
				v := mirrorView(snap)
				if arrival != nil {
					v.Checked, v.Infected, _ = arrival.Stats()
				}
				b, _ := json.MarshalIndent(v, "", "  ")
				_ = keystore.WriteFile(filepath.Join(dataDir, mirrorStatusFile), append(b, '\n'))
			}
			select {
			case <-wctx.Done():
				return
			case <-tick:
			case <-changed:
				if mc.statusEvery == 0 {
					// At most one write a second while the mirror is busy.
					select {
					case <-wctx.Done():
						return
					case <-time.After(time.Second):
					}
				}
			}
		}
	}()
	stop := func() error {
		cancel()
		<-done
		unwind()
		return srv.Close()
	}
	return &cloneMirror{srv: srv, dl: dl, bx: bx, down: down, scan: arrival, stop: stop}, nil
}

// statusKick is the mirror's observer that wakes the status writer: a
// send that never blocks the mirror's loop (one pending wake-up is enough).
type statusKick chan struct{}

func (k statusKick) kick() {
	select {
	case k <- struct{}{}:
	default:
	}
}

func (k statusKick) Replayed(replication.Replayed, int)   { k.kick() }
func (k statusKick) Notice(replication.Notice)            { k.kick() }
func (k statusKick) Outputs(outs []replication.AppOutput) { k.kick() }

// providerScanner scans a download with the clone's provider's engine
// (scanwire), the one per provider process, through its shared cache.
type providerScanner struct{ c *scanwire.Client }

// Scan implements downloader.Scanner; the blob's bytes are read from the
// mirror's store by the client when the provider asks for them.
func (p providerScanner) Scan(ctx context.Context, ref boxostore.Ref, _ func() (io.ReadCloser, error)) (downloads.Verdict, error) {
	v, err := p.c.Check(ctx, ref)
	if err != nil {
		return downloads.Verdict{}, err
	}
	return downloads.Verdict{Infected: v.Verdict.Infected, Name: v.Verdict.Name, By: v.Verdict.By, DBVersion: v.Version}, nil
}

// mirrorJSON is the operator's view of a mirror.
type mirrorJSON struct {
	Enrolled    bool     `json:"enrolled"` // the device said Hello once
	Epoch       uint64   `json:"epoch,omitempty"`
	SyncMs      uint64   `json:"t_syn_int_ms,omitempty"`
	MaxDelayMs  uint64   `json:"t_max_ms,omitempty"`
	Apps        []string `json:"apps,omitempty"`
	Taken       uint64   `json:"batches_taken"`
	Replayed    uint64   `json:"batches_replayed"`
	NextSeq     uint64   `json:"next_seq"`
	Relayed     uint64   `json:"network_inputs_relayed"`
	Held        int      `json:"network_inputs_held"`
	StateHash   string   `json:"state_hash"`
	Events      uint64   `json:"events_replayed"`
	Divergences uint64   `json:"divergences"`
	Resyncs     uint64   `json:"resyncs"`
	Refused     uint64   `json:"refused"`
	Resyncing   bool     `json:"resyncing"`
	LagP50Ms    int64    `json:"lag_p50_ms"`
	LagP99Ms    int64    `json:"lag_p99_ms"`
	LagMaxMs    int64    `json:"lag_max_ms"`
	Records     uint64   `json:"journal_records"`
	// Scan on arrival (the running clone's only): verdicts fetched since
	// it started, and files infected at the last pass.
	Checked  int `json:"scan_verdicts_fetched,omitempty"`
	Infected int `json:"files_infected,omitempty"`
}

func mirrorView(s mirrorservice.Snapshot) mirrorJSON {
	v := mirrorJSON{Taken: s.Position.Taken, Replayed: s.Position.Replayed, NextSeq: s.Position.NextSeq,
		Relayed: s.Position.Relayed, Held: s.Held, Events: s.Stats.Events, Divergences: s.Stats.Divergences,
		Resyncs: s.Stats.Resyncs, Refused: s.Stats.Refused, Resyncing: s.Resyncing, Records: s.Records,
		LagP50Ms: s.Stats.Lag.Quantile(0.5).Milliseconds(), LagP99Ms: s.Stats.Lag.Quantile(0.99).Milliseconds(),
		LagMaxMs: s.Stats.Lag.Max.Milliseconds()}
	if s.Meta != nil {
		v.Enrolled, v.Epoch, v.SyncMs, v.MaxDelayMs, v.Apps = true, s.Meta.Epoch, s.Meta.SyncMs, s.Meta.MaxDelay, s.Meta.Apps
		v.StateHash = fmt.Sprintf("%x", s.StateHash[:])
	}
	return v
}

func newMirrorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "The operator's view of a clone's mirror of its phone",
	}
	show := &cobra.Command{
		Use:   "show --data CLONEDIR",
		Short: "Print the mirror's state: epoch, t_syn_int, batches, lag, divergences, state hash",
		Long: `show rebuilds the mirror from the clone's datastore (the clone must not be
running), or, while the clone runs and holds its datastore, prints the
status it writes to mirror.json every second. For a clone hosted by a
provider (c2c provider --host-clones; --data <provider>/clones/NAME),
whose data is in the provider's datastore, it prints the mirror.json the
provider writes there whenever the mirror changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir("clone")
			if err != nil {
				return err
			}
			v, live, err := loadMirror(cmd.Context(), dir)
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(v, "", "  ")
			fmt.Fprintln(g.stdout, string(b))
			if live {
				fmt.Fprintln(g.stderr, "(from the running clone's", mirrorStatusFile+")")
			}
			return nil
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// loadMirror rebuilds the mirror offline, or reads a running clone's status.
func loadMirror(ctx context.Context, dir string) (mirrorJSON, bool, error) {
	cert, err := node.ReadOwnerCert(dir)
	if err != nil {
		return mirrorJSON{}, false, err
	}
	dev, err := mirrorservice.DeviceOf(cert.DeviceKey)
	if err != nil {
		return mirrorJSON{}, false, err
	}
	dsDir := filepath.Join(dir, node.DatastoreDir)
	if _, err := os.Stat(dsDir); errors.Is(err, os.ErrNotExist) {
		// A clone hosted by a provider (c2c provider --host-clones) keeps
		// its data in the provider's datastore: only its status file is
		// here. Opening dsDir would make an empty mirror.
		b, err := os.ReadFile(filepath.Join(dir, mirrorStatusFile))
		if err != nil {
			return mirrorJSON{}, false, fmt.Errorf("%s has no datastore and no %s (a hosted clone writes it once its provider runs it): %w", dir, mirrorStatusFile, err)
		}
		var v mirrorJSON
		return v, true, json.Unmarshal(b, &v)
	}
	ds, err := pebbleds.NewDatastore(dsDir)
	if err != nil {
		b, rerr := os.ReadFile(filepath.Join(dir, mirrorStatusFile))
		if rerr != nil {
			return mirrorJSON{}, false, errors.Join(err, rerr)
		}
		var v mirrorJSON
		return v, true, json.Unmarshal(b, &v)
	}
	defer ds.Close()
	snap, err := mirrorservice.Load(ctx, ds, builtin.Registry(boxostore.New(ds)), dev)
	if err != nil {
		return mirrorJSON{}, false, err
	}
	return mirrorView(snap), false, nil
}
