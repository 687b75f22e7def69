// Package insim runs a scenario's instances as goroutines in one process,
// on go-libp2p's simulated network (simnet, through internal/simquic) inside a
// testing/synctest bubble, so time is virtual: latencies are those of the
// simulated links and the protocol, not of a busy CPU.
//
// A synctest bubble needs a *testing.T; Main gets one from testing.Main, so
// `c2c-sim` (a normal binary) runs the same code as the tests.
package insim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/internal/gossipbytes"
	"github.com/clone2clone/c2c/internal/simquic"
	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/scenario"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrRun is returned when the simulation could not produce a summary.
var ErrRun = errors.New("insim: run failed")

// Options are the knobs of a run that are not scenario parameters.
type Options struct {
	// Log receives the nodes' logs (nil: none).
	Log *slog.Logger
	// Progress, if set, gets one line per phase (every instance passed a
	// sync point), with the virtual time and the heap, and in a run of 200
	// instances or more one line every WatchEvery of virtual time with
	// the clones started and published and what the providers hold
	// (scenario.Watch).
	Progress io.Writer
	// WatchEvery is the virtual time between two watch lines (0: 10 s).
	WatchEvery time.Duration
	// HeapProfile, if set, is where a pprof heap profile is written once
	// every node is up (the point where memory per node is measured).
	HeapProfile string
	// BeforeExit, if set, runs once the run is reported, before Main exits
	// the process (to flush a CPU profile, say).
	BeforeExit func()
}

// Main runs p in one process, hands the summary (or the error) to report
// and exits the process: 0 if report returned nil, 1 otherwise. It drives
// the run through testing.Main, the only way to get a *testing.T (which a
// synctest bubble needs) outside `go test`; the testing flags are left at
// their defaults.
func Main(p scenario.Params, o Options, report func(*scenario.Summary, error) error) {
	done := func() {
		if o.BeforeExit != nil {
			o.BeforeExit()
		}
	}
	if err := p.Validate(); err != nil {
		report(nil, err)
		done()
		os.Exit(1)
	}
	testing.Init()
	_ = flag.CommandLine.Parse(nil) // keep testing from parsing our command line
	wallStart := time.Now()
	testing.Main(func(_, _ string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: "Sim_" + p.Case,
		F: func(t *testing.T) {
			var sum *scenario.Summary
			var err error
			synctest.Test(t, func(t *testing.T) { sum, err = RunInBubble(p, o) })
			if sum != nil {
				sum.WallSeconds = time.Since(wallStart).Seconds()
			}
			if err := report(sum, err); err != nil {
				t.Error(err)
			}
			done()
		},
	}}, nil, nil)
}

// RunInBubble runs p; call it inside synctest.Test (tests do so directly).
func RunInBubble(p scenario.Params, o Options) (*scenario.Summary, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	run := scenario.RunDirectory
	if p.Case == scenario.CaseDocsync {
		run = scenario.RunDocsync
	}
	sn := &simnet.Simnet{LatencyFunc: gridLatency(p.Latency, p.DeliveryGrain, time.Now)} // one way, per packet
	sn.Start()
	defer sn.Close()
	link := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
		Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simquic.OneMbps},
	}
	meter := scenario.NewByteMeter()
	transport := func() []libp2p.Option {
		return []libp2p.Option{
			simquic.Transport(sn, link),
			libp2p.DisableIdentifyAddressDiscovery(), // it stalls synctest (see go-libp2p x/simlibp2p)
			libp2p.BandwidthReporter(meter),
		}
	}

	var base, up runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	gs := scenario.NewLocalSync(p.Instances)
	virtStart := time.Now() // virtual: inside the bubble
	var profErr error
	if o.Progress != nil && p.Instances >= 200 { // a phase of a large run takes minutes
		gs.OnArrive = func(topic string, arrived, n int) {
			if step := n / 10; arrived%step == 0 && arrived < n {
				fmt.Fprintf(o.Progress, "sim: %-10s %d/%d instances at t=%5.0fs virtual\n",
					topic, arrived, n, time.Since(virtStart).Seconds())
			}
		}
	}
	phaseSent := map[string]map[protocol.ID]int64{}
	phaseGossip := map[string]map[protocol.ID]int64{}
	var lastSent, lastGossip map[protocol.ID]int64
	gs.OnGathered = func(topic string) {
		now, gossip := meter.Sent(), scenario.GossipSent(meter.Gossip)
		phaseSent[topic], phaseGossip[topic] = gossipbytes.Diff(now, lastSent), gossipbytes.Diff(gossip, lastGossip)
		lastSent, lastGossip = now, gossip
		if topic == "up" { // every node is up: weigh the heap
			runtime.GC()
			runtime.ReadMemStats(&up)
			if o.HeapProfile != "" {
				profErr = writeHeapProfile(o.HeapProfile)
			}
		}
		if o.Progress != nil {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			hits, misses := cloneservice.ProcessSigStats()
			fmt.Fprintf(o.Progress, "sim: %-10s all %d instances at t=%5.0fs virtual, heap %.0f MiB; sent %s; gossip %s; signatures %d verified, %d cached\n",
				topic, p.Instances, time.Since(virtStart).Seconds(), float64(m.HeapAlloc)/(1<<20),
				scenario.FormatSent(phaseSent[topic], 4), scenario.FormatSent(phaseGossip[topic], 5), misses, hits)
		}
	}
	root, err := os.MkdirTemp("", "c2c-sim-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)

	shared, err := openHosting(root, p)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range shared {
			s.Close()
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var watch *scenario.Watch
	if o.Progress != nil && p.Instances >= 200 {
		watch = &scenario.Watch{}
		stop := watchLoop(o, watch, meter, virtStart)
		defer stop()
	}
	results := make([][]scenario.InstanceResult, p.Instances)
	errs := make([]error, p.Instances)
	var wg sync.WaitGroup
	for i := range p.Instances {
		dir, err := os.MkdirTemp(root, "node-")
		if err != nil {
			return nil, err
		}
		env := &scenario.Env{
			Index: i, Params: p, Sync: gs, Transport: transport, DataDir: dir,
			ListenAddrs: []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", simnet.IntToPublicIPv4(i+1)))},
			Log:         log.With("instance", i),
			Watch:       watch,
			Bytes:       meter,
		}
		if h := p.HostOf(i); h >= 0 {
			env.Shared = shared[h]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = run(ctx, env)
			if errs[i] != nil {
				cancel() // the others would wait for it at the next gather
			}
		}()
	}
	wg.Wait()
	virtual := time.Since(virtStart)
	if profErr != nil {
		errs = append(errs, fmt.Errorf("heap profile: %w", profErr))
	}
	if err := rootCauses(errs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRun, err)
	}
	sum := scenario.Summarize(p, "in-process", results[0])
	if up.HeapAlloc > base.HeapAlloc {
		sum.MemoryPerNodeBytes = float64(up.HeapAlloc-base.HeapAlloc) / float64(p.Instances)
	}
	sum.VirtualSeconds = virtual.Seconds()
	sum.SentByPhase = map[string]map[string]int64{}
	for topic, sent := range phaseSent {
		m := map[string]int64{}
		for p, n := range sent {
			m[string(p)] = n
		}
		for k, n := range phaseGossip[topic] {
			m["gossip:"+string(k)] = n
		}
		sum.SentByPhase[topic] = m
	}
	return sum, nil
}

// watchLoop prints a watch line every o.WatchEvery of virtual time until
// the returned stop is called (the run must stop it before it ends: a
// ticker left running keeps the bubble busy).
func watchLoop(o Options, w *scenario.Watch, meter *scenario.ByteMeter, virtStart time.Time) (stop func()) {
	every := o.WatchEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		last, lastGossip := meter.Sent(), scenario.GossipSent(meter.Gossip)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				now, gossip := meter.Sent(), scenario.GossipSent(meter.Gossip)
				fmt.Fprintf(o.Progress, "sim: t=%5.0fs virtual, heap %.0f MiB: %s; sent %s; gossip %s\n",
					time.Since(virtStart).Seconds(), float64(m.HeapAlloc)/(1<<20), w.View(),
					scenario.FormatSent(gossipbytes.Diff(now, last), 4),
					scenario.FormatSent(gossipbytes.Diff(gossip, lastGossip), 5))
				last, lastGossip = now, gossip
			}
		}
	}()
	return func() { close(done); <-exited }
}

// openHosting opens the shared parts of each provider process of the run
// (scenario.Params.HostOf): a go-ds-pebble datastore under root and one
// resource budget for the hosts of the clones it hosts, as `c2c provider
// --host-clones` opens them (node.OpenShared with the provider's limits),
// except that the datastore does not fsync (noSync).
func openHosting(root string, p scenario.Params) ([]*node.Shared, error) {
	hosted := make([]int, p.Providers)
	for i := range p.Instances {
		if h := p.HostOf(i); h >= 0 {
			hosted[h]++
		}
	}
	var out []*node.Shared
	for h, n := range hosted {
		var s *node.Shared
		ds, err := pebbleds.NewDatastore(filepath.Join(root, fmt.Sprintf("provider-%d", h), node.DatastoreDir))
		if err == nil {
			s, err = node.NewShared(noSync{ds}, node.DefaultParams(node.RoleProvider), n)
		}
		if err != nil {
			for _, s := range out {
				s.Close()
			}
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// noSync is a datastore whose Sync returns at once. Services sync what
// they acknowledge (the kill -9 rule); in a simulation nothing outlives
// the process, and an fsync is real time in which virtual time cannot
// advance: with hundreds of clones syncing each entry on one disk, a
// 1000-clone docsync run's invitations took longer than 15 minutes of
// wall time. Every write still goes through pebble.
type noSync struct{ datastore.Batching }

func (noSync) Sync(context.Context, datastore.Key) error { return nil }

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rootCauses joins the instances' errors, leaving out those that only say
// the run was cancelled because another instance failed first (in a
// 1000-instance run they would bury the one that matters), and counts them.
func rootCauses(errs []error) error {
	var causes []error
	cancelled := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			cancelled++
		default:
			causes = append(causes, err)
		}
	}
	if len(causes) == 0 {
		return errors.Join(errs...)
	}
	if cancelled > 0 {
		causes = append(causes, fmt.Errorf("(%d other instances stopped when the run was cancelled)", cancelled))
	}
	return errors.Join(causes...)
}

// gridLatency delays each packet by oneWay and then to the next multiple
// of grain (scenario.Params.DeliveryGrain): packets sent within one grain
// of each other arrive at one instant of virtual time, so the bubble runs
// their receivers together, on every core, and advances its clock once
// for all of them, instead of once per packet with one receiver runnable
// at a time. simnet's router keeps their order (it breaks ties by the
// order of sending).
func gridLatency(oneWay, grain time.Duration, clock func() time.Time) func(*simnet.Packet) time.Duration {
	if grain <= 0 {
		return simnet.StaticLatency(oneWay)
	}
	return func(*simnet.Packet) time.Duration {
		now := clock()
		at := now.Add(oneWay)
		if r := at.Sub(at.Truncate(grain)); r > 0 {
			at = at.Add(grain - r)
		}
		return at.Sub(now)
	}
}
