package xferbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/deliver"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FileBytes is the benchmark's file: the paper's 20 MB.
const FileBytes = 20 << 20

// Mechanism is one way of moving the file from a clone to its device.
type Mechanism struct {
	Name         string  `json:"name"`
	MBPerS       float64 `json:"mb_per_s"`       // median of the runs, file bytes over wall time
	WireBytes    int64   `json:"wire_bytes"`     // stream bytes both ways, from the device's byte counter
	WireOverhead float64 `json:"wire_overhead"`  // WireBytes / file size
	FirstBlockMs float64 `json:"first_block_ms"` // from the request to the first block held
	Rounds       int     `json:"rounds"`         // stream: want rounds; bitswap: messages the device received
	Runs         int     `json:"runs"`
}

// Result is what c2c bench transfer --json prints.
type Result struct {
	FileBytes           int         `json:"file_bytes"`
	Recipients          int         `json:"recipients"`
	DeviceUploadRatio   float64     `json:"device_upload_ratio"`
	DeviceUploadBytes   int64       `json:"device_upload_bytes"`
	BaselineUploadRatio float64     `json:"baseline_upload_ratio"` // the paper's phone: one upload per recipient
	PullMBPerS          float64     `json:"pull_mb_per_s"`
	ResumeOverheadBytes int64       `json:"resume_overhead_bytes"`
	UncutWireBytes      int64       `json:"uncut_wire_bytes"`
	CutWireBytes        int64       `json:"cut_and_resumed_wire_bytes"`
	Stream              Mechanism   `json:"stream"`
	Bitswap             Mechanism   `json:"bitswap"`
	Chosen              string      `json:"chosen"`
	Send                *SendResult `json:"send"`
	Notes               []string    `json:"notes"`
}

// runs is how many times each mechanism pulls the file (median reported).
const runs = 5

// pullTimeout bounds one pull of the file.
const pullTimeout = 2 * time.Minute

// Run measures everything on loopback in a temporary directory.
func Run(ctx context.Context, progress func(step string)) (Result, error) {
	base, err := os.MkdirTemp("", "c2c-bench-transfer-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(base)
	say := func(s string) {
		if progress != nil {
			progress(s)
		}
	}
	r := Result{FileBytes: FileBytes, Recipients: 5, BaselineUploadRatio: 5}
	say("pull: stream protocol vs bitswap")
	src, err := newSource(base)
	if err != nil {
		return r, err
	}
	defer src.close()
	ms, err := src.measure(ctx, base, []string{"stream", "bitswap"}, []pullFunc{src.pullStream, src.pullBitswap})
	if err != nil {
		return r, err
	}
	r.Stream, r.Bitswap = ms[0], ms[1]
	r.PullMBPerS = r.Stream.MBPerS
	// The stream protocol is kept while it costs no more bytes, reaches
	// the first block no later and keeps at least 3/4 of bitswap's rate.
	r.Chosen = "bitswap"
	if r.Stream.WireBytes <= r.Bitswap.WireBytes && r.Stream.FirstBlockMs <= r.Bitswap.FirstBlockMs && r.Stream.MBPerS >= 0.75*r.Bitswap.MBPerS {
		r.Chosen = "stream"
	}
	say("resume: a pull cut halfway, then resumed")
	if err := src.resume(ctx, base, &r); err != nil {
		return r, err
	}
	say("send once to many: 20 MB to 5 recipients")
	send, err := SendToMany(ctx, filepath.Join(base, "send"), FileBytes, r.Recipients, 1)
	if err != nil {
		return r, err
	}
	r.Send, r.DeviceUploadRatio, r.DeviceUploadBytes = &send, send.Ratio, send.UploadBytes
	r.Notes = append(r.Notes,
		"real libp2p hosts on 127.0.0.1 (TCP, Noise, yamux), pebble stores in a temporary directory; the directory of owner certificates is in memory",
		fmt.Sprintf("pull: a %d-byte file (a root and %d leaves of %d KiB) from a clone's store into a fresh device store, %d runs each taking turns, median; the time includes the check of the content's SHA-256",
			FileBytes, FileBytes/boxostore.ChunkSize, boxostore.ChunkSize>>10, runs),
		"bitswap: boxo v0.41.0 bitswap on both hosts, the root fetched through a session, then merkledag.FetchGraph over the session",
		"wire bytes: stream payload sent by the clone's and the device's hosts (their byte counters: what was written, also bytes in flight when a pull is cut), not TCP/Noise/yamux framing",
		"device_upload_ratio: the sender phone's stream bytes out (upload, sync batches, hellos) over the file size, until all 5 statuses came back; one recipient phone was off during the send")
	return r, nil
}

// source is a clone holding the file, and what a fresh device needs.
type source struct {
	clone host.Host
	ds    *pebbleds.Datastore
	store *boxostore.Store
	ref   boxostore.Ref
	cert  *Clone
	srv   *blobxfer.Server
	n     int
}

func newSource(base string) (*source, error) {
	d := deliver.NewMemDirectory()
	c, err := NewClone(d, base, "source")
	if err != nil {
		return nil, err
	}
	s := &source{clone: c.Host, cert: c}
	if s.ds, err = pebbleds.NewDatastore(filepath.Join(base, "source", "datastore")); err != nil {
		c.Host.Close()
		return nil, err
	}
	s.store = boxostore.New(s.ds)
	if s.ref, err = s.store.Add(Content(1, FileBytes)); err == nil {
		s.srv, err = blobxfer.New(c.Host, s.store, c.Cert, blobxfer.WithLogger(quiet))
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *source) close() {
	if s.srv != nil {
		_ = s.srv.Close()
	}
	_ = s.ds.Close()
	_ = s.clone.Close()
}

// dev is a fresh device: the enrolled key, a byte counter, a new store.
type dev struct {
	h     host.Host
	bytes *device.ByteCounter
	ds    *pebbleds.Datastore
	store *boxostore.Store
}

func (s *source) newDevice(ctx context.Context, base string) (*dev, error) {
	s.n++
	d := &dev{bytes: device.NewByteCounter()}
	var err error
	if d.h, err = libp2p.New(libp2p.Identity(s.cert.devKey), libp2p.NoListenAddrs, libp2p.BandwidthReporter(d.bytes)); err != nil {
		return nil, err
	}
	if d.ds, err = pebbleds.NewDatastore(filepath.Join(base, fmt.Sprintf("device-%d", s.n))); err != nil {
		d.h.Close()
		return nil, err
	}
	d.store = boxostore.New(d.ds)
	if err := d.h.Connect(ctx, peer.AddrInfo{ID: s.clone.ID(), Addrs: s.clone.Addrs()}); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *dev) close() {
	_ = d.h.Close()
	_ = d.ds.Close()
}

// wire is what the clone and the device sent so far.
func (s *source) wire(d *dev) int64 {
	return s.cert.Bytes.GetBandwidthTotals().TotalOut + d.bytes.GetBandwidthTotals().TotalOut
}

// pulled is one pull's measurements.
type pulled struct {
	first  time.Duration
	rounds int
}

type pullFunc func(ctx context.Context, d *dev) (pulled, error)

func (s *source) pullStream(ctx context.Context, d *dev) (pulled, error) {
	st, err := blobxfer.Pull(ctx, d.h, s.clone.ID(), s.ref, d.store, nil)
	return pulled{first: st.FirstBlock, rounds: st.Rounds}, err
}

// measure pulls the file runs times with each mechanism, each pull into
// a fresh device, the mechanisms taking turns so that they share the
// machine's load; a pull's time includes the check of the whole content
// against the Ref (the stream protocol does it inside Pull).
func (s *source) measure(ctx context.Context, base string, mechs []string, pulls []pullFunc) ([]Mechanism, error) {
	out := make([]Mechanism, len(mechs))
	rates := make([][]float64, len(mechs))
	firsts := make([][]float64, len(mechs))
	for range runs {
		for k, pull := range pulls {
			d, err := s.newDevice(ctx, base)
			if err != nil {
				return out, err
			}
			before := s.wire(d)
			start := time.Now()
			pctx, cancel := context.WithTimeout(ctx, pullTimeout)
			p, err := pull(pctx, d)
			cancel()
			if err == nil {
				if _, err = d.store.Read(s.ref); err != nil {
					err = fmt.Errorf("%s: the pulled file does not verify: %w", mechs[k], err)
				}
			}
			el := time.Since(start)
			wire := s.wire(d) - before
			d.close()
			if err != nil {
				return out, err
			}
			rates[k] = append(rates[k], float64(FileBytes)/1e6/el.Seconds())
			firsts[k] = append(firsts[k], float64(p.first.Microseconds())/1000)
			out[k] = Mechanism{Name: mechs[k], Runs: runs, WireBytes: wire, Rounds: p.rounds,
				WireOverhead: float64(wire) / FileBytes}
		}
	}
	for k := range out {
		out[k].MBPerS, out[k].FirstBlockMs = median(rates[k]), median(firsts[k])
	}
	return out, nil
}

func median(x []float64) float64 {
	sort.Float64s(x)
	return x[len(x)/2]
}

// resume cuts a pull when half the file has arrived, resumes it, and
// compares the wire bytes of both with one uncut pull.
func (s *source) resume(ctx context.Context, base string, r *Result) error {
	d, err := s.newDevice(ctx, base)
	if err != nil {
		return err
	}
	before := s.wire(d)
	if _, err := blobxfer.Pull(ctx, d.h, s.clone.ID(), s.ref, d.store, nil); err != nil {
		d.close()
		return err
	}
	r.UncutWireBytes = s.wire(d) - before
	d.close()
	if d, err = s.newDevice(ctx, base); err != nil {
		return err
	}
	defer d.close()
	before = s.wire(d)
	cctx, cut := context.WithCancel(ctx)
	_, err = blobxfer.Pull(cctx, d.h, s.clone.ID(), s.ref, d.store, func(done, total uint64) {
		if done >= total/2 {
			cut()
		}
	})
	cut()
	if !errors.Is(err, blobxfer.ErrUnavailable) {
		return fmt.Errorf("the cut pull: %v", err)
	}
	if _, err := blobxfer.Pull(ctx, d.h, s.clone.ID(), s.ref, d.store, nil); err != nil {
		return fmt.Errorf("the resumed pull: %w", err)
	}
	r.CutWireBytes = s.wire(d) - before
	r.ResumeOverheadBytes = r.CutWireBytes - r.UncutWireBytes
	return nil
}
