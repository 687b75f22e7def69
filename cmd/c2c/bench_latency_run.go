package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/internal/gossipbytes"
	"github.com/clone2clone/c2c/internal/procstat"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/metrics"
)

// latencyRun is one run of c2c bench latency.
type latencyRun struct {
	g     *globals
	f     *latencyFlags
	bench string // its name, in progress lines
	base  string
	net   *demoNet
	d     *docDemo
	bwc   *metrics.BandwidthCounter
	gsb   *gossipbytes.Counter // /meshsub bytes by topic and part
	tk    *tokens

	devClone map[int]int // clone index -> device number
	devices  []*streamDevice

	mu           sync.Mutex
	cloneLat     []time.Duration
	cloneSpread  map[rune]*tokenSpread // per clone-written token: first and last receiver
	cloneSeenLat []time.Duration       // as cloneLat, to when the bench's subscriber saw the update
	deviceLat    []time.Duration
	deviceLen    []int
	window       atomic.Bool // tokens are sampled while set
	edits        atomic.Int64
	typedTokens  sync.Map // rune -> true: every acknowledged or typed token
}

// Token authors: clone i is i, device k is deviceAuthor(k).
func deviceAuthor(k int) int { return -1 - k }

func (r *latencyRun) say(format string, args ...any) {
	fmt.Fprintf(r.g.stderr, "c2c bench "+r.bench+": "+format+"\n", args...)
}

func runLatencyBench(ctx context.Context, g *globals, f *latencyFlags) (res *latencyResult, err error) {
	if f.clones < 2 || f.devices < 0 || f.devices > f.clones || f.providers < 1 || f.rate <= 0 || f.duration <= 0 {
		return nil, errors.New("need --clones >= 2, 0 <= --devices <= --clones, --providers >= 1, --rate > 0 and --duration > 0")
	}
	if f.devices == 1 {
		return nil, errors.New("--devices 1 has no other device to measure against: use 0 or at least 2")
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	err = withLatencyNet(ctx, g, f, "latency", func(r *latencyRun) error {
		res, err = r.measure(ctx)
		return err
	})
	return res, err
}

// withLatencyNet sets a network up as f says (see setUp), runs run on it
// and tears it down; bench names the temporary directory and the progress.
func withLatencyNet(ctx context.Context, g *globals, f *latencyFlags, bench string, run func(r *latencyRun) error) (err error) {
	r := &latencyRun{g: g, f: f, bench: bench, net: &demoNet{hosted: f.datastores != "own"}, tk: &tokens{sent: map[rune]sentToken{}}, devClone: map[int]int{},
		cloneSpread: map[rune]*tokenSpread{}}
	if r.base, err = os.MkdirTemp("", "c2c-bench-"+bench+"-"); err != nil {
		return err
	}
	defer removeAllBut(r.base, demoLogFile)
	nodeLog, logFile, err := g.demoLogger(filepath.Join(r.base, demoLogFile))
	if err != nil {
		return err
	}
	defer logFile.Close()
	r.say("the nodes log to %s", logFile.Name())
	defer func() {
		for _, d := range r.devices {
			d.kill()
		}
		if cerr := r.net.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	r.bwc = metrics.NewBandwidthCounter()
	r.gsb = gossipbytes.New(netproto.MessageID, gossipbytes.DocLabel)
	opts := []node.Option{node.WithLogger(nodeLog), node.WithLibp2pOptions(libp2p.BandwidthReporter(r.bwc)),
		node.WithPubSubOptions(pubsub.WithRawTracer(r.gsb))}
	if err := r.setUp(ctx, opts); err != nil {
		return err
	}
	return run(r)
}

// setUp starts the network, the document and the devices.
func (r *latencyRun) setUp(ctx context.Context, opts []node.Option) error {
	f := r.f
	t0 := time.Now()
	if err := startDemoNet(ctx, r.net, r.base, f.providers, f.clones, opts); err != nil {
		return err
	}
	if err := r.net.contactsAll(r.base); err != nil {
		return err
	}
	for k := range f.devices {
		r.devClone[k*f.clones/f.devices] = k // spread: clones of different users
	}
	r.d = &docDemo{g: r.g, w: r.g.stderr, start: t0, base: r.base, boot: r.net.boot, opts: opts, bwc: r.bwc,
		clones: r.net.clones, closeAll: func(n *node.Node) { r.net.nodes = append(r.net.nodes, n) }}
	for i, c := range r.net.clones {
		var svc *cloneservice.Service
		if _, ok := r.devClone[i]; ok {
			cs, err := c.node.StartCloneServices("") // with the device link
			if err != nil {
				return err
			}
			svc = cs.Docs
		} else {
			s, err := c.node.StartDocs()
			if err != nil {
				return err
			}
			svc = s
		}
		r.d.svcs = append(r.d.svcs, svc)
	}
	r.say("%d providers and %d clones up after %v", f.providers, f.clones, time.Since(t0).Round(time.Millisecond))
	return nil
}

// shareDoc starts the sequencer and shares a document, created on clone
// 0, with every clone.
func (r *latencyRun) shareDoc(ctx context.Context) (*node.Node, *seqservice.Service, docsync.DocID, error) {
	seqNode, seqSvc, err := r.d.startSequencer(ctx, "sequencer")
	if err != nil {
		return nil, nil, docsync.DocID{}, err
	}
	others := make([]int, 0, r.f.clones-1)
	for i := 1; i < r.f.clones; i++ {
		others = append(others, i)
	}
	doc, err := r.d.share(ctx, seqNode.AddrInfo(), others)
	if err != nil {
		return nil, nil, doc, err
	}
	r.say("document %s shared by %d clones", doc, r.f.clones)
	return seqNode, seqSvc, doc, nil
}

// measure shares the document, runs the writers and collects the figures.
func (r *latencyRun) measure(ctx context.Context) (*latencyResult, error) {
	f := r.f
	seqNode, seqSvc, doc, err := r.shareDoc(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.startDevices(ctx, doc); err != nil {
		return nil, err
	}
	stopSubs, err := r.subscribe(doc)
	if err != nil {
		return nil, err
	}
	defer stopSubs()

	seq0 := mustInfo(r.d.svcs[0], doc).Seq
	before := sweptTotals(ctx, r.bwc)
	beforeProto := r.bwc.GetBandwidthByProtocol()
	beforeGossip, beforeMsgs := r.gsb.Snapshot(), r.gsb.Messages()
	cpu0, err := procstat.Read(os.Getpid())
	if err != nil {
		return nil, err
	}
	udp0, udpErr := procstat.UDPOut()
	ticks0, ticksErr := procstat.ReadCPUTicks()
	stores := pebbleDBs(r.datastores(seqNode))
	rt0, st0 := readRuntimeCounters(), readStoreCounters(stores)
	prof := &windowProfiles{cpu: f.cpuProfile, mutex: f.mutexProfile, block: f.blockProfile, allocs: f.allocProfile, exec: f.execTrace}
	if err := prof.start(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	r.window.Store(true)
	writers := r.write(ctx, doc)
	r.say("%d writers editing at %.0f edits/s for %v", writers, f.rate, f.duration)
	window := time.Since(t0)
	r.window.Store(false)

	converged := poll(ctx, "convergence", func() bool { return convergedOn(seqSvc, doc, r.d.svcs) == nil }) == nil
	cpu1, err := procstat.Read(os.Getpid())
	if err != nil {
		return nil, err
	}
	udp1, err := procstat.UDPOut()
	ticks1, err2 := procstat.ReadCPUTicks()
	ticksErr = cmp.Or(ticksErr, err2)
	rt1, st1 := readRuntimeCounters(), readStoreCounters(stores)
	udpErr = cmp.Or(udpErr, err)
	if err := prof.stop(); err != nil {
		return nil, err
	}
	after := sweptTotals(ctx, r.bwc)
	afterProto := r.bwc.GetBandwidthByProtocol()
	gossip, msgs := gossipbytes.Diff(r.gsb.Snapshot(), beforeGossip), gossipbytes.Diff(r.gsb.Messages(), beforeMsgs)
	seq1 := mustInfo(r.d.svcs[0], doc).Seq
	text, _ := r.d.svcs[0].Text(doc)
	if err := r.stopDevices(ctx, text); err != nil {
		return nil, err
	}
	entryBytes, err := r.entryBytes(ctx, seqNode, doc, seq0+1, seq1)
	if err != nil {
		return nil, err
	}

	res := &latencyResult{Clones: f.clones, Devices: f.devices, Writers: writers, DurationS: window.Seconds(),
		Edits: r.edits.Load(), Entries: seq1 - seq0, Converged: converged, BytesPerEditByProtocol: map[string]float64{},
		Datastores: cmp.Or(f.datastores, "shared")}
	r.mu.Lock()
	res.CloneP50Ms, res.CloneP99Ms = ms(percentile(r.cloneLat, 0.5)), ms(percentile(r.cloneLat, 0.99))
	res.DeviceP50Ms, res.DeviceP99Ms = ms(percentile(r.deviceLat, 0.5)), ms(percentile(r.deviceLat, 0.99))
	res.CloneSamples, res.DeviceSamples = len(r.cloneLat), len(r.deviceLat)
	res.CloneSeenP50Ms, res.CloneSeenP99Ms = ms(percentile(r.cloneSeenLat, 0.5)), ms(percentile(r.cloneSeenLat, 0.99))
	first, fanout := pathAndFanout(r.cloneSpread, f.clones-1)
	r.mu.Unlock()
	res.FirstReceiverP50Ms, res.FirstReceiverP99Ms = ms(percentile(first, 0.5)), ms(percentile(first, 0.99))
	res.FanoutP50Ms, res.FanoutP99Ms = ms(percentile(fanout, 0.5)), ms(percentile(fanout, 0.99))
	edits := float64(max(res.Edits, 1))
	res.EditsPerS = float64(res.Edits) / window.Seconds()
	res.CPUSeconds = (cpu1.CPU - cpu0.CPU).Seconds()
	deliveries := float64(max(res.Entries, 1) * uint64(f.clones-1))
	res.CPUUsPerDelivery = res.CPUSeconds * 1e6 / deliveries
	res.GCCycles = rt1.gcCycles - rt0.gcCycles
	if res.CPUSeconds > 0 {
		res.GCCPUShare = (rt1.gcCPU - rt0.gcCPU) / res.CPUSeconds
	}
	res.AllocBytesPerDelivery = float64(rt1.allocBytes-rt0.allocBytes) / deliveries
	res.StoreFlushes, res.StoreCompactions = st1.flushes-st0.flushes, st1.compactions-st0.compactions
	res.StoreWALBytesPerDelivery = float64(st1.walBytes-st0.walBytes) / deliveries
	if udpErr == nil {
		res.UDPDatagramsPerDelivery = float64(udp1-udp0) / deliveries
	}
	if ticksErr == nil {
		res.CPUStealShare = procstat.StealShare(ticks0, ticks1)
	}
	res.MemoryLimitBytes, res.GoMemoryBytes = f.memoryLimit, rt1.goMemory
	res.BytesPerEdit = float64(after.TotalOut-before.TotalOut) / edits
	for p, s := range afterProto {
		if n := s.TotalOut - beforeProto[p].TotalOut; n > 0 {
			name := string(p)
			if name == "" {
				name = "(negotiation)"
			}
			res.BytesPerEditByProtocol[name] = float64(n) / edits
		}
	}
	res.MeshsubBytesPerEdit, res.MeshsubMessagesPerS = map[string]float64{}, map[string]float64{}
	for t, n := range msgs {
		res.MeshsubMessagesPerS[t] = float64(n) / window.Seconds()
	}
	for k, n := range gossip {
		res.MeshsubBytesPerEdit[gossipRow(k)] = float64(n) / edits
	}
	res.EntryBytes = entryBytes / float64(max(res.Entries, 1))
	floor := deliveryFloor(int(res.EntryBytes), utf8.RuneCountInString(text))
	res.FloorCPUUsPerDelivery = float64(floor) / float64(time.Microsecond)
	res.CPUOverFloor = res.CPUUsPerDelivery / res.FloorCPUUsPerDelivery
	res.FloorBytesPerEdit = entryBytes * float64(f.clones-1) / edits
	if missing := r.missing(text); missing > 0 {
		return res, fmt.Errorf("%d acknowledged edits missing from the text", missing)
	}
	if !converged {
		return res, errors.New("the clones did not converge")
	}
	res.Notes = append(res.Notes, "wall-clock latency depends on the machine's load; CPU per delivery and bytes per edit less so",
		"the CPU is the whole process's: providers, the sequencer and the clones")
	return res, nil
}

// gossipRow names a row of meshsub_bytes_per_edit: "topic part", or the
// part alone for bytes of no topic (framing).
func gossipRow(k gossipbytes.Key) string {
	if k.Topic == "" {
		return k.Part
	}
	return k.Topic + " " + k.Part
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mustInfo(s *cloneservice.Service, doc docsync.DocID) cloneservice.Info {
	in, _ := s.Info(doc)
	return in
}

// subscribe samples clone latencies: a token of a clone writer applied at
// another clone.
func (r *latencyRun) subscribe(doc docsync.DocID) (func(), error) {
	var cancels []func()
	var wg sync.WaitGroup
	stop := func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}
	for i, svc := range r.d.svcs {
		ch, cancel, err := svc.Subscribe(doc)
		if err != nil {
			stop()
			return nil, err
		}
		cancels = append(cancels, cancel)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				if ev.Kind != cloneservice.EventUpdate || ev.Op == nil {
					continue
				}
				// Applied is when the clone's loop emitted the update,
				// once durable; seen is when this goroutine got it, later
				// by however long the scheduler kept it waiting.
				seen := time.Now()
				applied := cmp.Or(ev.Time, seen)
				counts := func(author int) bool { return author >= 0 && author != i }
				for _, c := range ev.Op.Comps {
					r.sample(c.Text, applied, counts, &r.cloneLat, r.cloneSpread)
					r.sample(c.Text, seen, counts, &r.cloneSeenLat, nil)
				}
			}
		}()
	}
	return stop, nil
}

// sample adds now - sent for every token in text whose author counts,
// to into and, unless nil, to the token's spread.
func (r *latencyRun) sample(text string, now time.Time, counts func(author int) bool, into *[]time.Duration, spread map[rune]*tokenSpread) {
	for _, c := range text {
		if !isToken(c) {
			continue
		}
		r.tk.mu.Lock()
		s, ok := r.tk.sent[c]
		r.tk.mu.Unlock()
		if ok && counts(s.author) {
			r.mu.Lock()
			*into = append(*into, now.Sub(s.at))
			if spread != nil {
				t := spread[c]
				if t == nil {
					t = &tokenSpread{}
					spread[c] = t
				}
				t.add(now.Sub(s.at))
			}
			r.mu.Unlock()
		}
	}
}

// startDevices connects a device process to each device clone and opens
// the document on it; its remote changes sample the device latencies.
func (r *latencyRun) startDevices(ctx context.Context, doc docsync.DocID) error {
	r.deviceLen = make([]int, len(r.devClone))
	return r.startDevicesWith(ctx, doc, func(k int) func(time.Time, streamLine) {
		return func(at time.Time, l streamLine) {
			if !l.Remote && l.Typed == 0 {
				return
			}
			r.mu.Lock()
			r.deviceLen[k] = l.Len
			r.mu.Unlock()
			r.sample(l.Ins, at, func(author int) bool { return author < 0 && author != deviceAuthor(k) }, &r.deviceLat, nil)
		}
	}, func(int) []string { return nil })
}

// startDevicesWith starts device k with c2c device stream's extra(k)
// flags, its lines going to onLine(k), and waits until each is ready.
func (r *latencyRun) startDevicesWith(ctx context.Context, doc docsync.DocID, onLine func(k int) func(time.Time, streamLine), extra func(k int) []string) error {
	if len(r.devClone) == 0 {
		return nil
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	logDir := filepath.Join(r.base, "devices")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return err
	}
	r.devices = make([]*streamDevice, len(r.devClone))
	for i, k := range r.devClone {
		c := r.net.clones[i]
		dev, err := startStreamDevice(ctx, bin, logDir, filepath.Join(r.base, fmt.Sprintf("device-%d", k)), c.device,
			c.user.String(), r.net.devKeys[i], c.node.P2PAddrs()[0].String(), hex.EncodeToString(doc[:]), onLine(k), extra(k)...)
		if err != nil {
			return err
		}
		r.devices[k] = dev
	}
	for _, dev := range r.devices {
		if _, err := dev.await(ctx, dev.ready, "the document open", time.Minute); err != nil {
			return err
		}
	}
	r.say("%d devices connected, each a process of its own", len(r.devices))
	return nil
}

// write runs the writers for the duration and returns how many there were.
func (r *latencyRun) write(ctx context.Context, doc docsync.DocID) int {
	f := r.f
	type writer struct {
		clone  int // -1 for a device
		device int
	}
	var ws []writer
	for i := range f.clones {
		if k, ok := r.devClone[i]; ok {
			ws = append(ws, writer{clone: -1, device: k})
		} else {
			ws = append(ws, writer{clone: i})
		}
	}
	if len(ws) > 16 {
		// 16 writers, as in the demo, whatever the size: more clones mean
		// more receivers of the same load. Devices always type.
		kept := ws[:0]
		extra := len(ws) - 16
		for _, w := range ws {
			if w.clone >= 0 && extra > 0 && w.clone%2 == 1 {
				extra--
				continue
			}
			kept = append(kept, w)
		}
		ws = kept
	}
	mean := time.Duration(float64(len(ws)) / f.rate * float64(time.Second))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for n, w := range ws {
		rng := rand.New(rand.NewPCG(uint64(n), 13))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var enc *json.Encoder
			if w.clone < 0 {
				enc = json.NewEncoder(r.devices[w.device].stdin)
			}
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(float64(mean) * (0.5 + rng.Float64()))):
				}
				if w.clone < 0 {
					tok := r.tk.new(deviceAuthor(w.device))
					if enc.Encode(patch{Pos: 0, Ins: string(tok)}) != nil {
						return
					}
					r.edits.Add(1)
					r.typedTokens.Store(tok, true)
					continue
				}
				tok := r.tk.new(w.clone)
				if err := r.d.svcs[w.clone].EditFunc(ctx, doc, insertAt(rng, string(tok))); err != nil {
					continue
				}
				r.edits.Add(1)
				r.typedTokens.Store(tok, true)
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-time.After(f.duration):
	}
	close(stop)
	wg.Wait()
	return len(ws)
}

// stopDevices waits until every device shows text's length, ends their
// input and waits for their last line.
func (r *latencyRun) stopDevices(ctx context.Context, text string) error {
	if len(r.devices) == 0 {
		return nil
	}
	want := len([]rune(text))
	if err := poll(ctx, fmt.Sprintf("every device shows the final text (%d code points)", want), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for k := range r.deviceLen {
			if r.deviceLen[k] != want {
				return false
			}
		}
		return true
	}); err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Errorf("%w; the devices show %v", err, r.deviceLen)
	}
	for _, dev := range r.devices {
		dev.stdin.Close()
	}
	for _, dev := range r.devices {
		if _, err := dev.await(ctx, dev.done, "its last line", time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// entryBytes fetches the committed entries from..to from the sequencer (as
// a member clone would) and sums their wire sizes.
func (r *latencyRun) entryBytes(ctx context.Context, seq *node.Node, doc docsync.DocID, from, to uint64) (float64, error) {
	h := r.net.clones[1].node.Host()
	total := 0.0
	for from <= to {
		es, err := netproto.FetchHistory(ctx, h, seq.ID(), doc, from, to)
		if err != nil {
			return 0, fmt.Errorf("fetch entries %d..%d: %w", from, to, err)
		}
		if len(es) == 0 {
			return 0, fmt.Errorf("fetch entries %d..%d: empty reply", from, to)
		}
		for _, e := range es {
			b, err := e.Marshal()
			if err != nil {
				return 0, err
			}
			total += float64(len(b))
		}
		from += uint64(len(es))
	}
	return total, nil
}

// missing counts acknowledged or typed tokens absent from text.
func (r *latencyRun) missing(text string) int {
	n := 0
	r.typedTokens.Range(func(k, _ any) bool {
		if !strings.ContainsRune(text, k.(rune)) {
			n++
		}
		return true
	})
	return n
}
