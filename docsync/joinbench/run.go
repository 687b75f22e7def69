// Package joinbench measures a member joining a document with a long
// history, from a snapshot and the tail against replaying from seq 1, over
// real libp2p hosts on loopback (TCP) with pebble stores on both sides:
// `c2c bench join` (docs/snapshots.md).
//
// The history is built with the real core (one writer, one edit per
// entry, the reference sequencer). The serving member keeps it in pebble
// and answers on the real wire protocols (netproto.ServeHistory and
// ServeSnapshot, reading its store per request as the clone does); the
// joiner fetches, verifies, applies and persists with one sync per reply
// as a clone does. Both joins must end in the same text and chain.
package joinbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Params are the bench's knobs.
type Params struct {
	Entries     int // history length
	Tail        int // entries after the snapshot
	KeepHistory int // entries the server keeps before its snapshot after compaction
	Window      int // the snapshot's window (docsync.SealSnapshot)
	// SnapshotJoins is how many times the new member joins from the
	// snapshot, each time a fresh host and store: snapshot_ms is the median.
	SnapshotJoins int
	Replay        bool   // also join by replay from seq 1
	HistoryCache  string // file keeping the built history between runs (cache.go); "" builds it
	// AroundSnapshotJoin, when set, is called as the join from the
	// snapshot starts and the function it returns as it ends: the window
	// `c2c bench join --cpu-profile` profiles.
	AroundSnapshotJoin func() (end func() error)
}

// DefaultParams returns the defaults of `c2c bench join`.
func DefaultParams() Params {
	return Params{Entries: 100_000, Tail: 100, KeepHistory: 4096, Window: docsync.DefaultSnapshotWindow,
		SnapshotJoins: 5, Replay: true}
}

// Result is what `c2c bench join --json` prints.
type Result struct {
	Entries      int `json:"entries"`
	TextRunes    int `json:"text_runes"`
	TailEntries  int `json:"tail_entries"`
	SnapshotSeq  int `json:"snapshot_seq"`
	SnapshotSize int `json:"snapshot_size_bytes"`
	// The names: join from the snapshot and the tail, and replay
	// from seq 1; ms from dial to the replica at the head with everything
	// persisted, bytes on the joiner's streams, both directions.
	SnapshotMs    float64 `json:"snapshot_ms"` // the median of SnapshotMsRuns
	SnapshotBytes int64   `json:"snapshot_bytes"`
	ReplayMs      float64 `json:"replay_ms"`
	ReplayBytes   int64   `json:"replay_bytes"`
	// Each join from the snapshot, in order.
	SnapshotMsRuns []float64 `json:"snapshot_ms_runs"`
	// CPU time (user + system) of the whole bench process, serving member
	// and joiner, during each join from the snapshot: the median, and each.
	// Unlike the wall time it hardly depends on what else runs on the cores.
	SnapshotCPUMs     float64   `json:"snapshot_cpu_ms"`
	SnapshotCPUMsRuns []float64 `json:"snapshot_cpu_ms_runs"`
	// The same figures under the names of the task brief.
	JoinMsSnapshot float64 `json:"join_ms_snapshot"`
	JoinMsReplay   float64 `json:"join_ms_replay"`
	BytesSnapshot  int64   `json:"bytes_snapshot"`
	BytesReplay    int64   `json:"bytes_replay"`
	// Keys and values of the serving member's log entries before and after
	// compaction behind the snapshot, keeping KeepHistory entries and the genesis.
	LogBytesBefore int64   `json:"log_bytes_before_compaction"`
	LogBytesAfter  int64   `json:"log_bytes_after_compaction"`
	KeepHistory    int     `json:"keep_history"`
	Identical      bool    `json:"identical"`
	BuildS         float64 `json:"build_s"`
}

func entryKey(seq uint64) datastore.Key { return datastore.NewKey(fmt.Sprintf("/e/%016x", seq)) }

var snapKey = datastore.NewKey("/snap")

// Run builds the history, serves it and joins it both ways.
func Run(p Params, progress io.Writer) (*Result, error) {
	if p.Entries < 4 || p.Tail < 1 || p.Tail >= p.Entries-2 || p.KeepHistory < 0 || p.SnapshotJoins < 1 {
		return nil, fmt.Errorf("joinbench: need entries >= 4, 1 <= tail < entries-2 and a join at least (got %d, %d, %d)",
			p.Entries, p.Tail, p.SnapshotJoins)
	}
	t0 := time.Now()
	h, err := loadOrBuildHistory(p.HistoryCache, p.Entries, p.Tail, p.Window, progress)
	if err != nil {
		return nil, fmt.Errorf("joinbench: build history: %w", err)
	}
	res := &Result{Entries: len(h.entries), TextRunes: len([]rune(h.text)), TailEntries: len(h.entries) - int(h.snap.Seq()),
		SnapshotSeq: int(h.snap.Seq()), SnapshotSize: len(h.snap.Bytes()), KeepHistory: p.KeepHistory,
		BuildS: time.Since(t0).Seconds()}
	dir, err := os.MkdirTemp("", "c2c-bench-join-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := newServer(dir+"/server", h)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	res.LogBytesBefore = srv.logBytes
	fmt.Fprintf(progress, "served: %d entries, snapshot at %d (%d bytes)\n", len(h.entries), h.snap.Seq(), len(h.snap.Bytes()))

	end := func() error { return nil }
	if p.AroundSnapshotJoin != nil {
		end = p.AroundSnapshotJoin()
	}
	var js *joined
	for i := range p.SnapshotJoins {
		fmt.Fprintf(progress, "joining from the snapshot and the tail (%d of %d)\n", i+1, p.SnapshotJoins)
		j, err := join(srv, h, fmt.Sprintf("%s/j1-%d", dir, i), true)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("joinbench: join from snapshot: %w", err), end())
		}
		res.SnapshotMsRuns = append(res.SnapshotMsRuns, j.ms)
		res.SnapshotCPUMsRuns = append(res.SnapshotCPUMsRuns, j.cpuMs)
		if js != nil && (j.text != js.text || j.head != js.head) {
			return nil, errors.Join(errors.New("joinbench: two joins from the snapshot ended in different states"), end())
		}
		js = j
	}
	if err := end(); err != nil {
		return nil, err
	}
	res.SnapshotMs, res.SnapshotBytes = median(res.SnapshotMsRuns), js.bytes
	res.SnapshotCPUMs = median(res.SnapshotCPUMsRuns)
	res.JoinMsSnapshot, res.BytesSnapshot = res.SnapshotMs, js.bytes
	res.Identical = js.text == h.text
	if p.Replay {
		fmt.Fprintln(progress, "joining by replay from seq 1")
		jr, err := join(srv, h, dir+"/j2", false)
		if err != nil {
			return nil, fmt.Errorf("joinbench: replay: %w", err)
		}
		res.ReplayMs, res.ReplayBytes = jr.ms, jr.bytes
		res.JoinMsReplay, res.BytesReplay = jr.ms, jr.bytes
		res.Identical = res.Identical && jr.text == h.text && js.head == jr.head && js.counter == jr.counter
	}
	if !res.Identical {
		return res, errors.New("joinbench: the joins ended in different states")
	}
	if res.LogBytesAfter, err = srv.compact(h.snap.Seq(), uint64(p.KeepHistory)); err != nil {
		return nil, err
	}
	return res, nil
}

// median of a non-empty sample.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// server is the serving member: a host and its pebble store.
type server struct {
	h        host.Host
	ds       *pebbleds.Datastore
	doc      docsync.DocID
	logBytes int64
	entries  uint64
}

func newServer(dir string, hs *history) (*server, error) {
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		return nil, err
	}
	s := &server{ds: ds, doc: hs.doc, entries: uint64(len(hs.entries))}
	ctx := context.Background()
	b, err := ds.Batch(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range hs.entries {
		eb, err := e.Marshal()
		if err != nil {
			return nil, err
		}
		k := entryKey(e.Head.Seq)
		s.logBytes += int64(len(k.String()) + len(eb))
		if err := b.Put(ctx, k, eb); err != nil {
			return nil, err
		}
	}
	if err := b.Put(ctx, snapKey, hs.snap.Bytes()); err != nil {
		return nil, err
	}
	if err := b.Commit(ctx); err != nil {
		return nil, err
	}
	if err := ds.Sync(ctx, datastore.NewKey("/")); err != nil {
		return nil, err
	}
	// Settle the store (flush the memtables, compact) before any join: a
	// member serving a document has not just bulk-written its whole log, and
	// the flush of 400 MB would otherwise run on the same cores as the
	// joins it is meant to serve.
	if err := ds.DB.Flush(); err != nil {
		return nil, err
	}
	if err := ds.DB.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return nil, err
	}
	if s.h, err = libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0")); err != nil {
		return nil, err
	}
	s.h.SetStreamHandler(netproto.HistoryProtocol, func(st network.Stream) {
		_ = netproto.ServeHistory(st, func(_ peer.ID, doc docsync.DocID, from, to uint64, max int) ([][]byte, error) {
			var out [][]byte
			for seq := from; seq <= to && len(out) < max; seq++ {
				b, err := s.ds.Get(context.Background(), entryKey(seq))
				if err != nil {
					break
				}
				out = append(out, b)
			}
			return out, nil
		}, time.Minute)
	})
	s.h.SetStreamHandler(netproto.SnapshotProtocol, func(st network.Stream) {
		_ = netproto.ServeSnapshot(st, func(peer.ID, docsync.DocID) ([]byte, error) {
			return s.ds.Get(context.Background(), snapKey)
		}, time.Minute)
	})
	return s, nil
}

func (s *server) close() {
	_ = s.h.Close()
	_ = s.ds.Close()
}

// compact deletes the entries before the last keep ones before the
// snapshot at snapSeq (the genesis stays) in one synced batch, as the
// clone does, and returns the bytes of the entries left.
func (s *server) compact(snapSeq, keep uint64) (int64, error) {
	ctx := context.Background()
	first := uint64(2)
	if snapSeq+1 > keep {
		first = max(2, snapSeq+1-keep)
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return 0, err
	}
	for seq := uint64(2); seq < first; seq++ {
		if err := b.Delete(ctx, entryKey(seq)); err != nil {
			return 0, err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return 0, err
	}
	if err := s.ds.Sync(ctx, datastore.NewKey("/")); err != nil {
		return 0, err
	}
	var left int64
	for seq := uint64(1); seq <= s.entries; seq++ {
		v, err := s.ds.Get(ctx, entryKey(seq))
		if errors.Is(err, datastore.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		left += int64(len(entryKey(seq).String()) + len(v))
	}
	return left, nil
}

type joined struct {
	ms      float64
	cpuMs   float64 // of the process
	bytes   int64
	text    string
	head    docsync.Hash
	counter uint64
}

// join is the joiner's side: a fresh host and pebble store; from the
// server's snapshot and the tail, or every entry from seq 1.
func join(srv *server, hs *history, dir string, fromSnapshot bool) (*joined, error) {
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	bwc := &byteCounter{BandwidthCounter: metrics.NewBandwidthCounter()}
	jh, err := libp2p.New(libp2p.NoListenAddrs, libp2p.BandwidthReporter(bwc))
	if err != nil {
		return nil, err
	}
	defer jh.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cfg := docsync.Config{Doc: hs.doc, Sequencer: hs.seqPub, Identity: hs.joiner}
	start, cpu0 := time.Now(), processCPU()
	if err := jh.Connect(ctx, peer.AddrInfo{ID: srv.h.ID(), Addrs: srv.h.Addrs()}); err != nil {
		return nil, err
	}
	var r *docsync.Replica
	if fromSnapshot {
		snap, err := netproto.FetchSnapshot(ctx, jh, srv.h.ID(), hs.doc)
		if err != nil {
			return nil, err
		}
		creator := hs.creator.ID()
		if r, err = docsync.Join(cfg, snap, func(m docsync.MemberID) bool { return m == creator }); err != nil {
			return nil, err
		}
		if err := ds.Put(ctx, snapKey, snap.Bytes()); err != nil {
			return nil, err
		}
		if err := ds.Sync(ctx, snapKey); err != nil {
			return nil, err
		}
	} else if r, err = docsync.New(cfg); err != nil {
		return nil, err
	}
	r.Advance()
	for r.Log().Seq() < srv.entries {
		from := r.Log().Seq() + 1
		es, err := netproto.FetchHistory(ctx, jh, srv.h.ID(), hs.doc, from, from+netproto.MaxHistoryBatch-1)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			return nil, fmt.Errorf("no entries from %d", from)
		}
		for _, e := range es {
			if err := r.HandleEntry(e); err != nil {
				return nil, fmt.Errorf("seq %d: %w", e.Head.Seq, err)
			}
		}
		if err := persist(ctx, ds, r); err != nil {
			return nil, err
		}
	}
	if r.Applied() != r.Log().Seq() {
		return nil, fmt.Errorf("applied %d of %d", r.Applied(), r.Log().Seq())
	}
	j := &joined{ms: float64(time.Since(start).Microseconds()) / 1000, cpuMs: float64((processCPU() - cpu0).Microseconds()) / 1000,
		text: r.Text(), head: r.Log().HeadHash(),
		counter: r.Log().Counter(hs.creator.ID())}
	j.bytes = bwc.n.Load()
	return j, nil
}

// persist writes the replica's newly committed entries with one sync, as
// the clone's group commit does.
func persist(ctx context.Context, ds datastore.Batching, r *docsync.Replica) error {
	rd := r.Ready()
	r.Advance()
	b, err := ds.Batch(ctx)
	if err != nil {
		return err
	}
	for _, e := range rd.Entries {
		eb, err := e.Marshal()
		if err != nil {
			return err
		}
		if err := b.Put(ctx, entryKey(e.Head.Seq), eb); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	return ds.Sync(ctx, datastore.NewKey("/"))
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail with RUSAGE_SELF and a valid pointer
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// byteCounter counts what the host's streams send and receive, at once
// (metrics.BandwidthCounter publishes its totals only every second).
type byteCounter struct {
	*metrics.BandwidthCounter
	n atomic.Int64
}

func (c *byteCounter) LogSentMessage(n int64) { c.n.Add(n); c.BandwidthCounter.LogSentMessage(n) }
func (c *byteCounter) LogRecvMessage(n int64) { c.n.Add(n); c.BandwidthCounter.LogRecvMessage(n) }
