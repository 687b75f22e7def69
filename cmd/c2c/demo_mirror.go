package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/builtin"
	"github.com/clone2clone/c2c/replication/devicexfer"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/clone2clone/c2c/replication/scan"
	"github.com/clone2clone/c2c/replication/scanwire"
	"github.com/clone2clone/c2c/replication/syncclient"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The demo's mirror timing: t_syn_int and t_max.
const (
	demoSyncInterval = 250 * time.Millisecond
	demoMaxDelay     = 100 * time.Millisecond
)

// demoMirrorObs hears one mirror's replays and resyncs.
type demoMirrorObs struct {
	mu      sync.Mutex
	lags    []time.Duration
	resyncs []replication.ResyncReport
}

func (o *demoMirrorObs) Replayed(r replication.Replayed, _ int) {
	o.mu.Lock()
	o.lags = append(o.lags, r.MaxLag)
	o.mu.Unlock()
}

func (o *demoMirrorObs) Notice(n replication.Notice) {
	if n.Kind == replication.NoticeResynced && n.Resync != nil {
		o.mu.Lock()
		o.resyncs = append(o.resyncs, *n.Resync)
		o.mu.Unlock()
	}
}

func (o *demoMirrorObs) Outputs([]replication.AppOutput) {}

// demoPhone is a phone of the demo: a device host running the sync client
// against its clone's mirror.
type demoPhone struct {
	name   string
	clone  demoClone
	mirror *cloneMirror
	obs    *demoMirrorObs
	h      host.Host
	ds     *pebbleds.Datastore
	c      *syncclient.Client
}

func startDemoPhone(ctx context.Context, log *slog.Logger, base, name string, c demoClone, cloneDir, devKeyPath string) (*demoPhone, error) {
	p := &demoPhone{name: name, clone: c, obs: &demoMirrorObs{}}
	var err error
	if p.mirror, err = openCloneMirror(ctx, log, c.node, cloneDir, mirrorConfig{downloads: demoDownloadParams(), statusEvery: time.Second}, p.obs); err != nil {
		return nil, err
	}
	key, _, err := keystore.LoadOrCreatePrivKey(devKeyPath)
	if err == nil {
		p.h, err = libp2p.New(libp2p.Identity(key), libp2p.NoListenAddrs)
	}
	if err == nil {
		p.ds, err = pebbleds.NewDatastore(filepath.Join(base, name, deviceMirrorDir))
	}
	if err == nil {
		clone := peer.AddrInfo{ID: c.node.ID(), Addrs: c.node.AddrInfo().Addrs}
		p.c, err = syncclient.New(ctx, p.h, clone, p.ds, builtin.Registry(boxostore.New(p.ds)), syncclient.Config{User: c.user,
			Device: c.device, Apps: builtin.Apps, SyncInterval: demoSyncInterval, MaxDelay: demoMaxDelay}, syncclient.WithLogger(log))
	}
	if err == nil {
		err = p.c.Connect(ctx)
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

func (p *demoPhone) close() {
	if p.c != nil {
		_ = p.c.Close()
	}
	if p.ds != nil {
		_ = p.ds.Close()
	}
	if p.h != nil {
		_ = p.h.Close()
	}
	if p.mirror != nil {
		_ = p.mirror.stop()
	}
}

func (p *demoPhone) input(ctx context.Context, app string, payload []byte) error {
	_, err := p.c.Input(ctx, app, payload)
	if err != nil {
		return fmt.Errorf("%s: %s input: %w", p.name, app, err)
	}
	return nil
}

func (p *demoPhone) synced(ctx context.Context) error {
	if err := p.c.Wait(ctx, syncclient.Synced); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

func (p *demoPhone) files(ctx context.Context, f func(*files.App)) {
	_ = p.c.View(ctx, func(s *replication.AppSet) { f(filesApp(s)) })
}

func demoContent(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// runMirrorDemo is the demo's mirror part: two phones (user 0's and user
// 1's), each syncing with its clone's mirror; files written on one and
// sent to the other through the outbox, the clones' delivery and the inbox;
// one divergence injected into a mirror and repaired; antivirus on the
// mirror (the provider adds signatures, phone A stores an EICAR file, its
// clone's scan finds it and signs the report); the lag measured against
// its bound.
func runMirrorDemo(ctx context.Context, log *slog.Logger, w io.Writer, start time.Time, base string, clones []demoClone, devKeys []string, scanner *scanwire.Provider) error {
	stamp := func() string { return fmt.Sprintf("[%5.1fs]", time.Since(start).Seconds()) }
	alice, err := startDemoPhone(ctx, log, base, "phone-a", clones[0], filepath.Join(base, "clone-0"), devKeys[0])
	if err != nil {
		return err
	}
	defer alice.close()
	bob, err := startDemoPhone(ctx, log, base, "phone-b", clones[2], filepath.Join(base, "clone-2"), devKeys[2])
	if err != nil {
		return err
	}
	defer bob.close()
	fmt.Fprintf(w, "%s mirror: two phones syncing with their clones' mirrors (t_syn_int %v, t_max %v)\n", stamp(), demoSyncInterval, demoMaxDelay)

	// 1. Files written on phone A, replayed by its mirror.
	report := demoContent(1, 700<<10)
	photo := demoContent(2, 300<<10)
	for _, op := range [][]byte{files.Mkdir("docs"), files.Put("docs/report.bin", report), files.Put("docs/photo.jpg", photo),
		files.Put("docs/photo-copy.jpg", photo), files.Write("docs/report.bin", 500<<10, []byte("edited in place"))} {
		if err := alice.input(ctx, files.Name, op); err != nil {
			return err
		}
	}
	copy(report[500<<10:], "edited in place")
	if err := alice.synced(ctx); err != nil {
		return err
	}
	var mirrorReport []byte
	_ = alice.mirror.srv.View(ctx, func(s *replication.AppSet) { mirrorReport, err = filesApp(s).Read("docs/report.bin") })
	if err != nil || !bytes.Equal(mirrorReport, report) {
		return fmt.Errorf("phone A's mirror does not hold docs/report.bin as written: %v", err)
	}
	var ref, p1, p2 boxostore.Ref
	alice.files(ctx, func(a *files.App) {
		e, _ := a.Stat("docs/report.bin")
		ref = e.Ref
		e, _ = a.Stat("docs/photo.jpg")
		p1 = e.Ref
		e, _ = a.Stat("docs/photo-copy.jpg")
		p2 = e.Ref
	})
	fmt.Fprintf(w, "%s mirror: phone A wrote 3 files (%d KB); its mirror replayed them, hashes match; the identical photo and its copy share one CID: %v\n",
		stamp(), (len(report)+2*len(photo))>>10, p1.CID == p2.CID)

	// 2. Phone A sends docs/report.bin to phone B: one small outbox input.
	q := outbox.Request{To: []outbox.Recipient{{User: []byte(bob.clone.user), Device: bob.clone.device}}, Text: "the report, as promised",
		Files: []inbox.Attached{{Name: "report.bin", Ref: ref}}}
	sent := time.Now()
	before, _ := alice.c.Status(ctx)
	if err := alice.input(ctx, outbox.Name, q.Marshal()); err != nil {
		return err
	}
	if err := alice.synced(ctx); err != nil {
		return err
	}
	after, _ := alice.c.Status(ctx)
	var got []*inbox.Item
	var gotFile []byte
	for len(got) == 0 {
		_ = bob.c.View(ctx, func(s *replication.AppSet) {
			a, _ := s.App(inbox.Name)
			ib := a.(*inbox.App)
			got = ib.List()
		})
		if len(got) > 0 {
			// The file came by reference: phone B pulls it from its clone.
			bx := &devicexfer.Device{Client: bob.c, Host: bob.h, Clone: bob.clone.node.ID(), Store: boxostore.New(bob.ds)}
			gotFile, _, err = bx.Pull(ctx, got[0].Files[0].Ref, nil)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("phone B's inbox stayed empty: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	delivered := time.Since(sent)
	if err != nil || sha256.Sum256(gotFile) != ref.SHA256 || got[0].Text != q.Text {
		return fmt.Errorf("phone B received a different file: %v", err)
	}
	if err := bob.synced(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s mirror: phone A sent report.bin (%d KB) to phone B with a %d-byte outbox input (phone A uploaded %d bytes for it);\n",
		stamp(), ref.Size>>10, len(q.Marshal()), after.BytesSent-before.BytesSent)
	fmt.Fprintf(w, "         clone A delivered it by reference to clone B, which pulled its blocks from clone A and relayed it to phone B's inbox; phone B pulled it from clone B: there after %v, SHA-256 matches\n",
		delivered.Round(time.Millisecond))
	if err := demoDownload(ctx, w, stamp, bob); err != nil {
		return err
	}

	// 3. One divergence: phone A's mirror loses a byte of docs/report.bin
	// behind the core's back; the next batch's replay catches it.
	_ = alice.mirror.srv.View(ctx, func(s *replication.AppSet) {
		_, err = filesApp(s).Apply(&replication.Event{Time: 1, Payload: files.Write("docs/report.bin", 100<<10, []byte{0xff})})
	})
	if err != nil {
		return err
	}
	if err := alice.input(ctx, files.Name, files.Put("docs/after.txt", []byte("written after the fault"))); err != nil {
		return err
	}
	if err := alice.c.Wait(ctx, func(s syncclient.Status) bool { return s.Resyncs >= 1 && !s.Frozen }); err != nil {
		return fmt.Errorf("phone A's mirror did not resync: %w", err)
	}
	if err := alice.input(ctx, files.Name, files.Put("docs/resumed.txt", []byte("replay resumed"))); err != nil {
		return err
	}
	if err := alice.synced(ctx); err != nil {
		return err
	}
	alice.obs.mu.Lock()
	reps := slices.Clone(alice.obs.resyncs)
	alice.obs.mu.Unlock()
	if len(reps) != 1 {
		return fmt.Errorf("phone A's mirror resynced %d times, want 1", len(reps))
	}
	rep := reps[0]
	fmt.Fprintf(w, "%s mirror: injected divergence in phone A's mirror (one byte of docs/report.bin) detected at batch %d, repaired:\n",
		stamp(), rep.Batch)
	fmt.Fprintf(w, "         the resync moved %d chunks, %d bytes (+ a %d-byte offer) of a %d-byte state (%.1f%%); hashes match again\n",
		rep.Chunks, rep.ChunkBytes, rep.OfferBytes, rep.StateBytes, 100*float64(rep.ChunkBytes)/float64(max(rep.StateBytes, 1)))

	// 4. Antivirus on the mirror.
	if err := demoScan(ctx, w, stamp, alice, bob, scanner, ref); err != nil {
		return err
	}

	// 5. The lag every replay measured, against its bound.
	var lags []time.Duration
	for _, p := range []*demoPhone{alice, bob} {
		p.obs.mu.Lock()
		lags = append(lags, p.obs.lags...)
		p.obs.mu.Unlock()
	}
	bound := demoSyncInterval + demoMaxDelay
	worst := slices.Max(lags)
	over, late := 0, uint64(0)
	for _, l := range lags {
		if l > bound {
			over++
		}
	}
	for _, p := range []*demoPhone{alice, bob} {
		if snap, err := p.mirror.srv.Snapshot(ctx); err == nil {
			late += snap.Stats.Late
		}
	}
	verdict := "within"
	if over > 0 {
		verdict = fmt.Sprintf("EXCEEDED by %d of them (%d batches replayed after their due time: the batch, or its payload chunks, arrived more than t_max after it closed)", over, late)
	}
	fmt.Fprintf(w, "%s mirror: lag over %d replays p50 %v, p99 %v, max %v; bound t_syn_int + t_max = %v: %s\n", stamp(), len(lags),
		percentile(lags, 0.5), percentile(lags, 0.99), worst, bound, verdict)
	return nil
}

// demoScan is the demo's antivirus part: provider 0 (every clone's first
// bootstrap, so the one whose scanner they ask) adds a hash signature,
// as c2c provider sigs add does; phone A stores EICAR at the end of a
// larger file and a file the signature names; its clone scans them on
// arrival through the provider; c2c device scan's report, signed by the
// clone, is verified; phone B's clone asks about report.bin, which phone
// A's clone had sent for scanning: the provider's shared cache answers.
func demoScan(ctx context.Context, w io.Writer, stamp func() string, alice, bob *demoPhone, scanner *scanwire.Provider, report boxostore.Ref) error {
	if alice.mirror.scan == nil || bob.mirror.scan == nil {
		return fmt.Errorf("the demo's clones have no scanner")
	}
	known := demoContent(3, 40<<10)
	store := scanwire.NewStore(scanner.Datastore())
	m, err := store.Add(ctx, scanner.Key(), []scanwire.SigFile{{Name: "demo.hsb", Data: fmt.Appendf(nil, "%x:%d:Demo.Known.Bad\n", sha256.Sum256(known), len(known))}})
	if err != nil {
		return err
	}
	if err := scanner.Reload(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s scan: provider 0 signed signature database version %d (%d hash, %d body signatures, EICAR built in)\n",
		stamp(), m.Version, m.HashSigs, m.BodySigs)
	for _, op := range [][]byte{files.Mkdir("dl"), files.Put("dl/game.apk", append(demoContent(4, 200<<10), scan.EICAR()...)), files.Put("dl/known.bin", known)} {
		if err := alice.input(ctx, files.Name, op); err != nil {
			return err
		}
	}
	if err := alice.synced(ctx); err != nil {
		return err
	}
	if err := alice.mirror.scan.Rescan(ctx); err != nil {
		return err
	}
	checked, infected, _ := alice.mirror.scan.Stats()
	if infected != 2 {
		return fmt.Errorf("scan on arrival found %d infected files in phone A's mirror, want 2", infected)
	}
	fmt.Fprintf(w, "%s scan: clone A checked phone A's files on arrival with the provider's one engine: %d infected now (%d verdicts fetched since start, over versions 0 and 1)\n",
		stamp(), infected, checked)
	var steps int
	_, r, err := scanwire.RequestReport(ctx, alice.h, alice.clone.node.ID(), func(int, int) { steps++ })
	if err != nil {
		return err
	}
	var found []string
	for _, e := range r.Files {
		if e.Infected {
			found = append(found, e.Path+": "+e.Name)
		}
	}
	if r.Infected != 2 {
		return fmt.Errorf("the scan report names %d infected files, want 2: %v", r.Infected, found)
	}
	fmt.Fprintf(w, "%s scan: c2c device scan on phone A: %d files, infected %v; report signed by clone A and verified (every verdict signed by the provider, db version %d)\n",
		stamp(), len(r.Files), found, r.DBVersion)
	before := scanner.CacheLen()
	v, err := bob.mirror.scan.Client().Check(ctx, report)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s scan: clone B asked about report.bin (sent to it by phone A): %v, from the cache the provider shares across its clones (still %d verdicts: scanned once per version)\n",
		stamp(), verdictWord(v.Verdict), scanner.CacheLen())
	if scanner.CacheLen() != before {
		return fmt.Errorf("clone B's question was not answered from the provider's cache (%d -> %d verdicts)", before, scanner.CacheLen())
	}
	return nil
}

func verdictWord(v scan.Verdict) string {
	if v.Infected {
		return "infected (" + v.Name + ")"
	}
	return "clean"
}
