package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"
)

// record is what a clone shares about itself: where its certificate is.
type record struct {
	User   peer.ID `json:"user"`
	Device string  `json:"device"`
	Clone  peer.ID `json:"clone"`
}

const device = "phone"

// RunDirectory is the directory case for one instance: instances below
// Params.Providers are providers, the others clones. It returns every
// instance's result.
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
		if n, err = startNode(ctx, env, node.RoleProvider, nil); err != nil {
			return nil, err
		}
		defer func() { n.Close() }()
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
		if n, err = startClone(ctx, env, providers); err != nil {
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
	var records []record
	for _, raw := range all[p.Providers:] {
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%w: record: %w", ErrGather, err)
		}
		records = append(records, r)
	}
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
		l := &looker{env: env, res: res, records: records, me: me, node: n, providers: providers}
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
	records   []record
	me        int
	node      *node.Node
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
		l.lookup(ctx, l.records[target])
	}
}

// churn takes the clone down at leaveAt and brings it back DownFor later,
// with the same data dir (identity, certificate) and a fresh datastore.
func (l *looker) churn(ctx context.Context, leaveAt time.Time) error {
	time.Sleep(time.Until(leaveAt))
	l.res.Left = true
	if err := l.node.Close(); err != nil {
		return fmt.Errorf("clone %d leaves: %w", l.env.Index, err)
	}
	time.Sleep(l.env.Params.DownFor)
	n, err := startClone(ctx, l.env, l.providers)
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

// startNode starts a node of role with the env's transport and an
// in-memory datastore.
func startNode(ctx context.Context, env *Env, role node.Role, boot []peer.AddrInfo) (*node.Node, error) {
	cfg := node.DefaultConfig(role, env.DataDir)
	cfg.ListenAddrs = env.ListenAddrs
	cfg.Bootstrap = boot
	if h := env.Params.ConnsHigh; h > 0 && role == node.RoleClone {
		cfg.Params.ConnsLow, cfg.Params.ConnsHigh, cfg.Params.ConnGrace = h/2, h, 10*time.Second
	}
	n, err := node.New(ctx, cfg,
		node.WithLogger(env.Log),
		node.WithLibp2pOptions(env.transport()...),
		node.WithDatastore(dssync.MutexWrap(datastore.NewMapDatastore())))
	if err != nil {
		return nil, fmt.Errorf("instance %d starts a %s: %w", env.Index, role, err)
	}
	return n, nil
}

// startClone starts a clone and waits until it has published its record.
func startClone(ctx context.Context, env *Env, providers []peer.AddrInfo) (*node.Node, error) {
	n, err := startNode(ctx, env, node.RoleClone, providers)
	if err != nil {
		return nil, err
	}
	select {
	case <-n.Published():
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
