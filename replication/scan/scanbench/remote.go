package scanbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/scanwire"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
)

// remoteMB is how much of the folder the remote passes send.
const remoteMB = 64

// heapOf returns the live heap that build's result holds, in MB. Two
// collections first: the second frees what sync.Pool's victim cache (the
// engines' scratch buffers) still held after the first.
func heapOf(build func() (any, error)) (float64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := build()
	if err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / 1e6, nil
}

// remote measures the scanner on the network as clones use it: a provider
// and two clones on loopback libp2p hosts. The first clone asks about
// each of the first remoteMB of files: the provider's cache misses, the
// clone sends the bytes, the provider scans them. The second clone asks
// about the same blobs: the cache answers, no bytes move.
func remote(progress io.Writer, res *Result, files []file, sigs []scanwire.SigFile) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fmt.Fprintln(progress, "scan bench: the provider's scanner over loopback libp2p (cache miss, then another clone's cache hit)")
	mem := func() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }
	ph, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		return err
	}
	defer ph.Close()
	pds := mem()
	if _, err := scanwire.NewStore(pds).Add(ctx, ph.Peerstore().PrivKey(ph.ID()), sigs); err != nil {
		return err
	}
	prov, err := scanwire.NewProvider(ctx, ph, pds, scanwire.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	defer prov.Close()

	var refs []boxostore.Ref
	var total int64
	blobs := boxostore.New(mem())
	for _, f := range files {
		if total >= remoteMB<<20 {
			break
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		ref, err := blobs.Add(b)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
		total += f.size
	}
	ask := func(bs *boxostore.Store) (time.Duration, int, error) {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			return 0, 0, err
		}
		defer h.Close()
		if err := h.Connect(ctx, ph.Peerstore().PeerInfo(ph.ID())); err != nil {
			return 0, 0, err
		}
		c, err := scanwire.NewClient(ctx, h, ph.ID(), mem(), bs)
		if err != nil {
			return 0, 0, err
		}
		found := 0
		t0 := time.Now()
		for _, ref := range refs {
			v, err := c.Check(ctx, ref)
			if err != nil {
				return 0, 0, err
			}
			if v.Verdict.Infected {
				found++
			}
		}
		return time.Since(t0), found, nil
	}
	miss, found, err := ask(blobs)
	if err != nil {
		return err
	}
	cached := prov.CacheLen()
	hit, found2, err := ask(boxostore.New(mem())) // holds no bytes: only the cache can answer
	if err != nil {
		return err
	}
	if found2 != found || prov.CacheLen() != cached {
		return fmt.Errorf("the second clone's answers differ (%d vs %d infected) or were scanned again", found2, found)
	}
	res.RemoteFiles, res.RemoteMB = len(refs), float64(total)/1e6
	res.RemoteMiss = float64(total) / 1e6 / miss.Seconds()
	res.RemoteHitUs = float64(hit.Microseconds()) / float64(len(refs))
	res.Notes = append(res.Notes, fmt.Sprintf("remote: the first %d files (%.0f MB) asked of the provider by a clone over loopback libp2p (cache miss: the clone sends the bytes, the provider scans them), then by a second clone holding no bytes (the shared cache answers: remote_hit_us_per_file)", len(refs), res.RemoteMB),
		"db_heap_mb is the live heap of one compiled database (10k body + 100k hash): what one engine per mirror would cost each clone process")
	return nil
}
