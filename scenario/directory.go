package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// record is what a clone shares about itself: where its certificate is.
type record struct {
	User   peer.ID `json:"user"`
	Device string  `json:"device"`
	Clone  peer.ID `json:"clone"`
}

const device = "phone"

// RunDirectory is the directory case for one instance: instances below
// Params.Providers are providers, the others clones. Instance 0 returns
// every instance's result, the others nil.
func RunDirectory(ctx context.Context, env *Env) ([]InstanceResult, error) {
	p := env.Params
	res := &InstanceResult{Index: env.Index, Role: string(node.RoleClone)}
	isProvider := env.Index < p.Providers
	if isProvider {
		res.Role = string(node.RoleProvider)
	}

	// 1. Providers start and share their addresses.
	var n *node.Node
	var err error
	var mine []byte
	if isProvider {
		if n, err = startProvider(ctx, env); err != nil {
			return nil, err
		}
		defer func() { n.Close() }()
		env.Watch.addProvider(n)
		if mine, err = json.Marshal(n.AddrInfo()); err != nil {
			return nil, err
		}
	}
	all, err := env.Sync.Gather(ctx, "providers", env.Index, mine)
	if err != nil {
		return nil, err
	}
	var providers []peer.AddrInfo
	for _, raw := range all[:p.Providers] {
		var ai peer.AddrInfo
		if err := json.Unmarshal(raw, &ai); err != nil {
			return nil, fmt.Errorf("%w: provider info: %w", ErrGather, err)
		}
		providers = append(providers, ai)
	}

	// 2. Providers mesh; clones enroll, join through them and publish.
	mine = nil
	if isProvider {
		for _, ai := range providers[:env.Index] { // one dial per pair
			{
				if err := n.Host().Connect(ctx, ai); err != nil {
					return nil, fmt.Errorf("provider %d connects to %s: %w", env.Index, ai.ID, err)
				}
			}
		}
	} else {
		cert, err := enroll(env.DataDir)
		if err != nil {
			return nil, err
		}
		if err := sleepCtx(ctx, p.joinDelay(env.Index-p.Providers)); err != nil {
			return nil, err
		}
		// The hosting provider first, as clonehost.Config.Bootstrap has it.
		host := p.HostOf(env.Index)
		providers = append([]peer.AddrInfo{providers[host]}, slices.Delete(slices.Clone(providers), host, host+1)...)
		if n, err = startClone(ctx, env, cert.Clone, providers); err != nil {
			return nil, err
		}
		defer func() { n.Close() }()
		if mine, err = json.Marshal(record{User: cert.User, Device: device, Clone: cert.Clone}); err != nil {
			return nil, err
		}
	}
	if all, err = env.Sync.Gather(ctx, "records", env.Index, mine); err != nil {
		return nil, err
	}
	// Each clone decodes only the records it looks up: decoding every
	// record in every instance cost N^2 (12% of a 1000-node run's CPU).
	records := all[p.Providers:]
	if _, err := env.Sync.Gather(ctx, "up", env.Index, nil); err != nil {
		return nil, err
	}
	if env.MeasureHeap {
		res.HeapBytes = heapInUse()
	}
	res.PeersUp = len(n.Host().Network().Peers())

	// 3. Clones look each other up for Duration under churn.
	if !isProvider {
		me := env.Index - p.Providers
		l := &looker{env: env, res: res, records: records, me: me, node: n, id: n.ID(), providers: providers}
		if err := l.run(ctx, churned(p)[me]); err != nil {
			return nil, err
		}
		n = l.node
	}
	res.PeersEnd = len(n.Host().Network().Peers())
	results, err := gatherResults(ctx, env, res)
	if err != nil {
		return nil, err
	}
	// Nobody stops before everyone is done reading the results.
	if _, err := env.Sync.Gather(ctx, "done", env.Index, nil); err != nil {
		return nil, err
	}
	return results, nil
}

// looker is one clone's lookup phase.
type looker struct {
	env       *Env
	res       *InstanceResult
	records   [][]byte // every clone's record, as gathered
	me        int
	node      *node.Node
	id        peer.ID
	providers []peer.AddrInfo
}

func (l *looker) run(ctx context.Context, churns bool) error {
	p := l.env.Params
	rng := l.env.rng(1)
	start := time.Now()
	end := start.Add(p.Duration)
	var leaveAt time.Time
	if churns {
		// Leave somewhere in the first half, so the clone is back before the end.
		leaveAt = start.Add(p.Duration/10 + time.Duration(rng.Int64N(int64(p.Duration*4/10))))
	}
	for {
		wait := p.LookupEvery/2 + time.Duration(rng.Int64N(int64(p.LookupEvery)))
		next := time.Now().Add(wait)
		if !leaveAt.IsZero() && !l.res.Left && next.After(leaveAt) {
			if err := l.churn(ctx, leaveAt); err != nil {
				return err
			}
			continue
		}
		if next.After(end) {
			time.Sleep(time.Until(end))
			return nil
		}
		time.Sleep(wait)
		target := rng.IntN(len(l.records) - 1)
		if target >= l.me {
			target++
		}
		var r record
		if err := json.Unmarshal(l.records[target], &r); err != nil {
			return fmt.Errorf("%w: record of clone %d: %w", ErrGather, target, err)
		}
		l.lookup(ctx, r)
	}
}

// churn takes the clone down at leaveAt and brings it back DownFor later,
// with the same data dir (identity, certificate) and, when hosted, the same
// data in its provider's datastore (an unhosted one gets a fresh one).
func (l *looker) churn(ctx context.Context, leaveAt time.Time) error {
	time.Sleep(time.Until(leaveAt))
	l.res.Left = true
	if err := l.node.Close(); err != nil {
		return fmt.Errorf("clone %d leaves: %w", l.env.Index, err)
	}
	time.Sleep(l.env.Params.DownFor)
	n, err := startClone(ctx, l.env, l.id, l.providers)
	if err != nil {
		return fmt.Errorf("clone %d rejoins: %w", l.env.Index, err)
	}
	l.node = n
	l.res.Rejoined = true
	return nil
}

func (l *looker) lookup(ctx context.Context, r record) {
	ctx, cancel := context.WithTimeout(ctx, l.env.Params.Timeout)
	defer cancel()
	t0 := time.Now()
	cert, err := l.node.Directory().Lookup(ctx, r.User, r.Device)
	lat := time.Since(t0)
	l.res.Lookups++
	if err == nil && cert.Clone != r.Clone {
		err = fmt.Errorf("found clone %s, want %s", cert.Clone, r.Clone)
	}
	if err != nil {
		if len(l.res.FailedLookups) < 5 {
			l.res.FailedLookups = append(l.res.FailedLookups, fmt.Sprintf("%s after %v: %v", r.User, lat, err))
		}
		return
	}
	l.res.LookupsOK++
	l.res.LookupLat = append(l.res.LookupLat, lat)
}

// startProvider starts a provider node with the env's transport, on its
// process's shared datastore (its root) if the env has one.
func startProvider(ctx context.Context, env *Env) (*node.Node, error) {
	cfg := node.DefaultConfig(node.RoleProvider, env.DataDir)
	cfg.ListenAddrs = env.ListenAddrs
	opts := []node.Option{node.WithLogger(env.Log), node.WithLibp2pOptions(env.transport()...)}
	if env.Shared != nil {
		opts = append(opts, node.WithSharedDatastore(env.Shared, ""))
	} else {
		opts = append(opts, node.WithDatastore(memStore()))
	}
	n, err := node.New(ctx, cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("instance %d starts a provider: %w", env.Index, err)
	}
	return n, nil
}

// startCloneNode starts a clone node the way a provider hosts one
// (clonehost.NodeConfig, clonehost.NodeOptions): a DHT client of the
// providers unless Params.ServerClones, with the hosted clones' timers, on
// the env's shared datastore and resource budget if it has them. Its
// hosting provider comes first in providers.
func startCloneNode(ctx context.Context, env *Env, id peer.ID, providers []peer.AddrInfo) (*node.Node, error) {
	hp := clonehost.DefaultParams()
	hp.DHTServer = env.Params.ServerClones
	if h := env.Params.ConnsHigh; h > 0 {
		hp.ConnsLow, hp.ConnsHigh = h/2, h
	}
	cfg := clonehost.NodeConfig(env.DataDir, quicOnly(env.ListenAddrs), providers, hp)
	opts := append(clonehost.NodeOptions(env.Shared, id, hp),
		node.WithLogger(env.Log), node.WithLibp2pOptions(env.transport()...))
	if env.Shared == nil {
		opts = append(opts, node.WithDatastore(memStore()))
	}
	n, err := node.New(ctx, cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("instance %d starts a clone: %w", env.Index, err)
	}
	return n, nil
}

// quicOnly keeps the QUIC addresses of addrs: a hosted clone has no TCP
// transport (clonehost.NodeOptions).
func quicOnly(addrs []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// startClone starts a clone and waits until it has published its record.
func startClone(ctx context.Context, env *Env, id peer.ID, providers []peer.AddrInfo) (*node.Node, error) {
	env.Watch.cloneStarted()
	n, err := startCloneNode(ctx, env, id, providers)
	if err != nil {
		return nil, err
	}
	select {
	case <-n.Published():
		env.Watch.clonePublished()
		return n, nil
	case <-time.After(env.Params.Timeout):
		n.Close()
		return nil, fmt.Errorf("clone %d: record not published after %v", env.Index, env.Params.Timeout)
	case <-ctx.Done():
		n.Close()
		return nil, ctx.Err()
	}
}

// enroll does what `c2c enroll` does for a clone in dataDir, under a fresh
// user key: identity, HPKE key and owner certificate.
func enroll(dataDir string) (*dht.OwnerCert, error) {
	key, _, err := keystore.LoadOrCreatePrivKey(filepath.Join(dataDir, node.IdentityFile))
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	_, pub, _, err := keystore.LoadOrCreateHPKEKey(filepath.Join(dataDir, node.HPKEKeyFile), dht.GenerateHPKEKey)
	if err != nil {
		return nil, err
	}
	user, err := dht.GenerateUserKey()
	if err != nil {
		return nil, err
	}
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: device, DeviceKey: id, Clone: id, CloneHPKE: pub,
		Seq: 1, EOL: time.Now().Add(365 * 24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	return cert, node.WriteOwnerCert(dataDir, cert)
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
