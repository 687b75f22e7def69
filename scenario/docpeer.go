package scenario

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	roleClone     = "clone"
	roleSequencer = "sequencer"
)

// docPeer is a host with gossipsub for the docsync case. The services run
// on plain hosts, not node.Node: the DHT and resource limits are the
// directory case's subject, and the document flow needs neither.
type docPeer struct {
	h      host.Host
	ps     *pubsub.PubSub
	cancel context.CancelFunc
}

// startPeer starts the host and gossipsub of a sequencer or clone. A
// hosted clone (env.Shared set) runs the gossipsub heartbeat that
// `c2c provider --host-clones` gives its clones (clonehost.Params); the
// sequencer keeps gossipsub's.
func startPeer(env *Env, key crypto.PrivKey) (*docPeer, error) {
	opts := append([]libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrs(env.ListenAddrs...),
		libp2p.ResourceManager(&network.NullResourceManager{}),
	}, env.transport()...)
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("instance %d starts a host: %w", env.Index, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gopts := netproto.GossipOptions()
	if env.Shared != nil {
		gp := netproto.GossipParams()
		gp.HeartbeatInterval = clonehost.DefaultParams().GossipHeartbeat
		gopts = append(gopts, pubsub.WithGossipSubParams(gp))
	}
	if env.Bytes != nil && env.Bytes.Gossip != nil {
		gopts = append(gopts, pubsub.WithRawTracer(env.Bytes.Gossip))
	}
	ps, err := pubsub.NewGossipSub(ctx, h, gopts...)
	if err != nil {
		cancel()
		h.Close()
		return nil, err
	}
	return &docPeer{h: h, ps: ps, cancel: cancel}, nil
}

func (p *docPeer) info() peer.AddrInfo { return peer.AddrInfo{ID: p.h.ID(), Addrs: p.h.Addrs()} }

func (p *docPeer) close() {
	p.cancel()
	_ = p.h.Close()
}

// cloneCard is what a clone shares: its signed owner certificate and
// addresses (the directory of the docsync case) and its member ID.
type cloneCard struct {
	Cert   []byte        `json:"cert"`
	Addr   peer.AddrInfo `json:"addr"`
	Member docsync.MemberID
}

// decodeCards decodes gathered cards.
func decodeCards(raw [][]byte) ([]cloneCard, error) {
	cards := make([]cloneCard, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &cards[i]); err != nil {
			return nil, fmt.Errorf("%w: clone card: %w", ErrGather, err)
		}
	}
	return cards, nil
}

// gatheredDirectory is a cloneservice.Directory built from the cards
// clones shared through Sync, decoded on first use (most clones never
// look anyone up); certificates are verified on lookup. Addresses
// (Resolve: every member's member dials) and certificates (LookupClone:
// only the inviter's) are indexed apart: decoding the group's 250
// certificates in every clone that resolved an address was 1.2% of an
// N=251 run's CPU, and grows as the square of the group.
type gatheredDirectory struct {
	raw [][]byte

	certsOnce sync.Once
	certsErr  error
	certs     map[string]*dht.OwnerCert

	addrsOnce sync.Once
	addrsErr  error
	addrs     map[peer.ID]peer.AddrInfo
}

func newGatheredDirectory(raw [][]byte) *gatheredDirectory {
	return &gatheredDirectory{raw: raw}
}

func (d *gatheredDirectory) indexCerts() error {
	d.certsOnce.Do(func() {
		cards, err := decodeCards(d.raw)
		if err != nil {
			d.certsErr = err
			return
		}
		d.certs = map[string]*dht.OwnerCert{}
		for _, c := range cards {
			cert, err := dht.UnmarshalOwnerCert(c.Cert)
			if err != nil {
				d.certsErr = fmt.Errorf("%w: owner certificate: %w", ErrGather, err)
				return
			}
			d.certs[dht.CertKey(cert.User, cert.Device)] = cert
		}
	})
	return d.certsErr
}

func (d *gatheredDirectory) indexAddrs() error {
	d.addrsOnce.Do(func() {
		d.addrs = map[peer.ID]peer.AddrInfo{}
		for _, b := range d.raw {
			var c struct {
				Addr peer.AddrInfo `json:"addr"`
			}
			if err := json.Unmarshal(b, &c); err != nil {
				d.addrsErr = fmt.Errorf("%w: clone card: %w", ErrGather, err)
				return
			}
			d.addrs[c.Addr.ID] = c.Addr
		}
	})
	return d.addrsErr
}

// LookupClone implements cloneservice.Directory.
func (d *gatheredDirectory) LookupClone(_ context.Context, user peer.ID, dev string) (cloneservice.Clone, error) {
	if err := d.indexCerts(); err != nil {
		return cloneservice.Clone{}, err
	}
	c := d.certs[dht.CertKey(user, dev)]
	if c == nil {
		return cloneservice.Clone{}, fmt.Errorf("scenario: no certificate for %s/%s: %w", user, dev, dht.ErrNotFound)
	}
	return cloneservice.Clone{Peer: c.Clone, HPKE: c.CloneHPKE, Addrs: c.Addrs}, c.Verify(time.Now())
}

// Resolve implements cloneservice.Directory.
func (d *gatheredDirectory) Resolve(_ context.Context, p peer.ID) (peer.AddrInfo, error) {
	if err := d.indexAddrs(); err != nil {
		return peer.AddrInfo{}, err
	}
	a, ok := d.addrs[p]
	if !ok {
		return peer.AddrInfo{}, fmt.Errorf("scenario: unknown clone %s: %w", p, dht.ErrNotFound)
	}
	return a, nil
}

var _ cloneservice.Directory = (*gatheredDirectory)(nil)

// forkingSequencer equivocates from seq ForkAt (victims get their own
// branch); seqtest.Observed notes when it first published something no
// honest sequencer would.
type forkingSequencer struct {
	mu      sync.Mutex // guards victims, set after the sequencer started
	victims map[docsync.MemberID]bool
	obs     map[docsync.DocID]*seqtest.Observed
}

func (f *forkingSequencer) factory(at uint64) func(docsync.DocID, ed25519.PrivateKey) sequencer.Orderer {
	return func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		b := sequencer.NewByzantine(doc, key, sequencer.Equivocate, at)
		b.Victims = func(m docsync.MemberID) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.victims[m]
		}
		obs := seqtest.Observe(b)
		f.mu.Lock()
		if f.obs == nil {
			f.obs = map[docsync.DocID]*seqtest.Observed{}
		}
		f.obs[doc] = obs
		f.mu.Unlock()
		return obs
	}
}

func (f *forkingSequencer) setVictims(v map[docsync.MemberID]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.victims = v
}

// misbehavedAt is when the sequencer of doc first misbehaved (zero: not
// yet, or no forking sequencer).
func (f *forkingSequencer) misbehavedAt(doc docsync.DocID) time.Time {
	f.mu.Lock()
	obs := f.obs[doc]
	f.mu.Unlock()
	if obs == nil {
		return time.Time{}
	}
	at, _ := obs.MisbehavedAt()
	return at
}

// memStore is an in-memory datastore that outlives a clone's restart.
func memStore() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }
