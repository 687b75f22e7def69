package dht

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/clone2clone/c2c/internal/guard"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	dhtpb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol IDs and the gossip topic of the directory.
const (
	GetProtocol  protocol.ID = "/c2c/dir/get/2.0.0"
	SyncProtocol protocol.ID = "/c2c/dir/sync/2.0.0"
	Topic                    = "/c2c/dir/records/1.0.0"
)

// Directory publishes and finds directory records for one node.
type Directory struct {
	h    host.Host
	kad  *kaddht.IpfsDHT
	ps   *pubsub.PubSub
	opts options
	val  *Validator
	log  *slog.Logger
	msgr *dhtpb.ProtocolMessenger

	store       *recordStore
	topic       *pubsub.Topic // nil without pubsub
	resolveRate *guard.Limiter[peer.ID]
	repairRate  *guard.Limiter[struct{}] // misses a provider asks the others about (replica.go)
	kadRecords  *records.ValueStore      // what peers put to this provider over kad-dht; nil unless WithKadStore

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	running   atomic.Bool
	runDone   chan struct{} // closed when Run returns

	stats struct {
		lookupsDHT, lookupsReplica, lookupsFailed  atomic.Uint64
		republished, republishFailed               atomic.Uint64
		gossipStored, syncPulled, replicaGetServed atomic.Uint64
		replicaRepaired, kadAdopted                atomic.Uint64
	}
}

// Stats are counters for tests and metrics.
type Stats struct {
	LookupsDHT, LookupsReplica, LookupsFailed uint64
	Republished, RepublishFailed              uint64
	GossipStored, SyncPulled                  uint64
	GetServed                                 uint64
	Repaired                                  uint64 // misses answered from another provider
	KadAdopted                                uint64 // misses answered from a kad-dht put to this provider
	Records                                   int    // records held (own + replica)
}

// New wires the directory onto an existing host, kad-dht and gossipsub.
// kad must have been built with ProtocolPrefix("/c2c") and
// NamespacedValidator(Namespace, NewValidator(...)). ps may be nil (no
// gossip). New registers the get and sync stream handlers and a topic
// validator on Topic; Run starts the background work.
func New(h host.Host, kad *kaddht.IpfsDHT, ps *pubsub.PubSub, opts ...Option) (*Directory, error) {
	if h == nil || kad == nil {
		return nil, fmt.Errorf("%w: host and kad-dht are required", ErrInvalidParams)
	}
	o := options{params: DefaultParams(), now: time.Now, logger: slog.Default()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := o.params.Validate(); err != nil {
		return nil, err
	}
	if o.store == nil {
		o.store = dssync.MutexWrap(ds.NewMapDatastore())
	}
	d := &Directory{h: h, kad: kad, ps: ps, opts: o, val: newValidator(o.now),
		log: o.logger.With("component", "dht", "peer", h.ID())}
	var err error
	if d.msgr, err = dhtpb.NewProtocolMessenger(kad.MessageSender()); err != nil {
		return nil, err
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.runDone = make(chan struct{})
	if d.store, err = openStore(d.ctx, o.store, d.val); err != nil {
		return nil, err
	}
	if ps != nil {
		if err := ps.RegisterTopicValidator(Topic, d.validateGossip); err != nil {
			return nil, fmt.Errorf("dht: topic validator: %w", err)
		}
		if d.topic, err = ps.Join(Topic); err != nil {
			_ = ps.UnregisterTopicValidator(Topic)
			return nil, fmt.Errorf("dht: join topic: %w", err)
		}
	}
	h.SetStreamHandler(GetProtocol, d.handleGet)
	if d.opts.replica {
		// Anti-entropy is between providers; a clone holds only its own
		// records and need not accept anyone's summary.
		h.SetStreamHandler(SyncProtocol, d.handleSync)
		d.resolveRate = guard.NewLimiter[peer.ID](resolveRate, 4096)
		d.repairRate = guard.NewLimiter[struct{}](repairRate, 1)
		if o.kadStore != nil {
			// Get only reads and age-checks; the replica's put validates.
			// Age expiry is the validator's EOL, so none here.
			d.kadRecords = records.NewValueStore(o.kadStore, d.val, 0)
		}
		h.SetStreamHandler(ResolveProtocol, d.handleResolve)
	}
	return d, nil
}

// Stats snapshots the counters.
func (d *Directory) Stats() Stats {
	return Stats{
		LookupsDHT: d.stats.lookupsDHT.Load(), LookupsReplica: d.stats.lookupsReplica.Load(),
		LookupsFailed: d.stats.lookupsFailed.Load(),
		Republished:   d.stats.republished.Load(), RepublishFailed: d.stats.republishFailed.Load(),
		GossipStored: d.stats.gossipStored.Load(), SyncPulled: d.stats.syncPulled.Load(),
		GetServed: d.stats.replicaGetServed.Load(), Repaired: d.stats.replicaRepaired.Load(),
		KadAdopted: d.stats.kadAdopted.Load(),
		Records:    d.store.size(),
	}
}

// Publish stores c as one of this node's own records (republished by Run),
// puts it into the DHT, verifies by asking the closest peers for it, and
// gossips it to the providers. A record that does not supersede the one
// already held is refused with ErrStaleSeq. If the put cannot be verified
// the record is still kept and Run retries; the error is ErrNotVerified.
func (d *Directory) Publish(ctx context.Context, c *OwnerCert) error {
	raw, err := c.Marshal()
	if err != nil {
		return err
	}
	return d.publishRaw(ctx, c.Key(), raw)
}

// PublishIndex is Publish for a device index.
func (d *Directory) PublishIndex(ctx context.Context, idx *DeviceIndex) error {
	raw, err := idx.Marshal()
	if err != nil {
		return err
	}
	return d.publishRaw(ctx, idx.Key(), raw)
}

func (d *Directory) publishRaw(ctx context.Context, key string, raw []byte) error {
	if _, err := d.store.put(ctx, key, raw, true); err != nil {
		return err
	}
	return d.announce(ctx, key, raw)
}

// announce puts, verifies and gossips one record.
func (d *Directory) announce(ctx context.Context, key string, raw []byte) error {
	d.gossip(ctx, key, raw)
	if err := d.kad.PutValue(ctx, key, raw); err != nil {
		return fmt.Errorf("dht: put %s: %w", key, err)
	}
	return d.verifyPut(ctx, key, raw)
}

// verifyPut asks the peers closest to key for it, because PutValue reports
// success even when every remote put failed.
func (d *Directory) verifyPut(ctx context.Context, key string, raw []byte) error {
	need := d.opts.params.MinVerifiedCopies
	if need == 0 {
		return nil
	}
	peers, err := d.kad.GetClosestPeers(ctx, key)
	if err != nil {
		return fmt.Errorf("%w: %s: closest peers: %v", ErrNotVerified, key, err)
	}
	var held atomic.Int64
	var wg sync.WaitGroup
	for _, p := range peers {
		if p == d.h.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, d.opts.params.RequestTimeout)
			defer cancel()
			rec, _, err := d.msgr.GetValue(rctx, p, key)
			if err != nil || rec == nil {
				return
			}
			if d.holdsOurs(key, raw, rec.GetValue()) {
				held.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := int(held.Load()); got < need {
		return fmt.Errorf("%w: %s held by %d of %d closest peers, need %d", ErrNotVerified, key, got, len(peers), need)
	}
	return nil
}

// holdsOurs: the remote value is ours, or a valid one that supersedes it.
func (d *Directory) holdsOurs(key string, ours, theirs []byte) bool {
	if bytes.Equal(ours, theirs) {
		return true
	}
	return d.val.CheckUpdate(key, ours, theirs) == nil
}

// Lookup finds the owner certificate of (user, device): through the DHT,
// then from the providers' replicas. The result is verified.
func (d *Directory) Lookup(ctx context.Context, user peer.ID, device string) (*OwnerCert, error) {
	if err := checkDeviceName(device); err != nil {
		return nil, err
	}
	raw, err := d.lookupRaw(ctx, CertKey(user, device))
	if err != nil {
		return nil, err
	}
	return UnmarshalOwnerCert(raw)
}

// Devices finds the user's device index, like Lookup.
func (d *Directory) Devices(ctx context.Context, user peer.ID) (*DeviceIndex, error) {
	raw, err := d.lookupRaw(ctx, IndexKey(user))
	if err != nil {
		return nil, err
	}
	return UnmarshalDeviceIndex(raw)
}

func (d *Directory) lookupRaw(ctx context.Context, key string) ([]byte, error) {
	if _, err := parseKey(key); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, d.opts.params.LookupTimeout)
	raw, dhtErr := d.kad.GetValue(dctx, key, kaddht.Quorum(d.opts.params.LookupQuorum))
	cancel()
	if dhtErr == nil {
		if dhtErr = d.val.Validate(key, raw); dhtErr == nil {
			d.stats.lookupsDHT.Add(1)
			return raw, nil
		}
	}
	raw, err := d.fromReplicas(ctx, key)
	if err != nil {
		d.stats.lookupsFailed.Add(1)
		return nil, fmt.Errorf("%w: %s: dht: %v; replicas: %w", ErrNotFound, key, dhtErr, err)
	}
	d.stats.lookupsReplica.Add(1)
	d.log.Debug("lookup served by replica", "key", key, "dhtErr", dhtErr)
	return raw, nil
}

// Resolve finds a clone's addresses through DHT peer routing.
func (d *Directory) Resolve(ctx context.Context, clone peer.ID) (peer.AddrInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.params.LookupTimeout)
	defer cancel()
	ai, err := d.kad.FindPeer(ctx, clone)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%w: peer %s: %w", ErrNotFound, clone, err)
	}
	return ai, nil
}

// Close stops Run, removes the handlers and leaves the topic. It does not
// close the host, kad-dht, pubsub or the store (their owner does).
func (d *Directory) Close() error {
	var err error
	d.closeOnce.Do(func() {
		d.cancel()
		if d.running.Load() {
			<-d.runDone // Run holds the gossip subscription until it returns
		}
		d.h.RemoveStreamHandler(GetProtocol)
		d.h.RemoveStreamHandler(SyncProtocol)
		d.h.RemoveStreamHandler(ResolveProtocol)
		if d.topic != nil {
			err = errors.Join(d.topic.Close(), d.ps.UnregisterTopicValidator(Topic))
		}
	})
	return err
}
