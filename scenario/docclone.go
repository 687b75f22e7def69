package scenario

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// errNotYet is what polling returns while a condition does not hold.
var errNotYet = errors.New("scenario: not yet")

// pollEvery is how often a clone re-checks its document's state.
const pollEvery = 20 * time.Millisecond

// docClone is one clone of the docsync case.
type docClone struct {
	env     *Env
	key     crypto.PrivKey
	hpke    []byte
	seqInfo peer.AddrInfo
	ds      datastore.Batching // survives a restart
	dir     *lazyDirectory
	card    cloneCard
	rng     *rand.Rand

	peer     *docPeer
	svc      *cloneservice.Service
	doc      docsync.DocID
	stopSub  func()
	subDone  chan struct{}
	submits  []time.Time // acked edits, in order
	left     bool
	rejoined bool
	// finalSeqs and finalOwn are editSeqs' answer once read.
	finalSeqs map[uint64]bool
	finalOwn  []uint64
	// editsFrom is the first seq an edit of the run may have: the seq
	// after this clone's log when every instance had joined (editsBegin).
	editsFrom uint64

	mu      sync.Mutex
	recv    map[uint64]time.Time // seq -> when its update arrived here
	alarmAt time.Time
}

func newDocClone(ctx context.Context, env *Env, key crypto.PrivKey, seqInfo peer.AddrInfo) (*docClone, error) {
	priv, pub, err := dht.GenerateHPKEKey()
	if err != nil {
		return nil, err
	}
	ds := memStore()
	if env.Shared != nil { // its provider process's datastore, as a hosted clone's
		self, err := peer.IDFromPrivateKey(key)
		if err != nil {
			return nil, err
		}
		ds = env.Shared.Sub("/clones/" + self.String())
	}
	c := &docClone{env: env, key: key, hpke: priv, seqInfo: seqInfo, ds: ds, dir: &lazyDirectory{},
		rng: env.rng(2), recv: map[uint64]time.Time{}}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	user, err := dht.GenerateUserKey()
	if err != nil {
		return nil, err
	}
	id := c.peer.h.ID()
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: device, DeviceKey: id, Clone: id, CloneHPKE: pub,
		Seq: 1, EOL: time.Now().Add(365 * 24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	raw, err := cert.Marshal()
	if err != nil {
		return nil, err
	}
	c.card = cloneCard{Cert: raw, Addr: c.peer.info(), Member: c.svc.ID()}
	return c, nil
}

// start (re)starts the host and the clone service on the clone's key and
// datastore, and connects to the sequencer.
func (c *docClone) start(ctx context.Context) error {
	p, err := startPeer(c.env, c.key)
	if err != nil {
		return err
	}
	id, err := cloneservice.IdentityFromKeys(c.key, c.hpke)
	if err != nil {
		p.close()
		return err
	}
	svc, err := cloneservice.New(p.h, p.ps, c.ds, id,
		cloneservice.WithLogger(c.env.Log), cloneservice.WithDirectory(c.dir),
		// The scenario's clones form a closed group created to edit together.
		cloneservice.WithInvitePolicy(cloneservice.AcceptAll))
	if err != nil {
		p.close()
		return err
	}
	c.peer, c.svc = p, svc
	if err := p.h.Connect(ctx, c.seqInfo); err != nil {
		return fmt.Errorf("clone %d connects to the sequencer: %w", c.env.Index, err)
	}
	return nil
}

func (c *docClone) stop() {
	if c.stopSub != nil {
		c.stopSub()
		<-c.subDone
		c.stopSub = nil
	}
	_ = c.svc.Close()
	c.peer.close()
}

func (c *docClone) close() { c.stop() }

// invitesInFlight is how many invitations a creator has open at once. One
// at a time, each waits for its add-member entry to commit and then for
// the invitee's stream; with several in flight the clone service queues
// the add-member ops and the sequencer commits them back to back (an
// N=251 run had its 249 invitations done at 18 s of virtual time; at
// N=1000, four creators on one sequencer, it still took about 65 s, as
// one at a time did: docs/scale.md).
const invitesInFlight = 16

// createAndInvite creates the document on the sequencer and invites every
// other clone as a writer.
func (c *docClone) createAndInvite(ctx context.Context, cards []cloneCard) (docsync.DocID, error) {
	doc, err := c.svc.Create(ctx, c.seqInfo)
	if err != nil {
		return doc, fmt.Errorf("create: %w", err)
	}
	errs := make([]error, len(cards))
	sem := make(chan struct{}, invitesInFlight)
	var wg sync.WaitGroup
	for i, card := range cards {
		if card.Member == c.svc.ID() {
			continue
		}
		cert, err := dht.UnmarshalOwnerCert(card.Cert)
		if err != nil {
			return doc, err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ictx, cancel := context.WithTimeout(ctx, c.env.Params.Timeout)
			defer cancel()
			if _, err := c.svc.Invite(ictx, doc, cert.User, cert.Device, docsync.RoleWriter); err != nil {
				errs[i] = fmt.Errorf("invite %d of %d (%s): %w", i+1, len(cards), cert.Clone, err)
			}
		})
	}
	wg.Wait()
	return doc, errors.Join(errs...)
}

// waitJoined waits until the clone holds the document as a writer and is
// up to date, then follows its events.
func (c *docClone) waitJoined(ctx context.Context) error {
	err := poll(ctx, c.env.Params.Timeout, func() error {
		in, err := c.svc.Info(c.doc)
		if err != nil || in.Role < docsync.RoleWriter || in.Applied != in.Seq {
			return errNotYet
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clone %d joins the document: %w", c.env.Index, err)
	}
	return c.follow()
}

// follow records when updates and the fork alarm arrive.
func (c *docClone) follow() error {
	events, cancel, err := c.svc.Subscribe(c.doc)
	if err != nil {
		return err
	}
	done, quit := make(chan struct{}), make(chan struct{})
	c.stopSub = func() { close(quit); cancel() }
	c.subDone = done
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				c.mu.Lock()
				switch ev.Kind {
				case cloneservice.EventUpdate:
					if _, seen := c.recv[ev.Seq]; !seen {
						c.recv[ev.Seq] = time.Now()
					}
				case cloneservice.EventAlarm:
					if c.alarmAt.IsZero() {
						c.alarmAt = time.Now()
					}
				}
				c.mu.Unlock()
			}
		}
	}()
	return nil
}

// poll checks cond every pollEvery until it returns nil, for at most limit.
func poll(ctx context.Context, limit time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// lazyDirectory answers from a gatheredDirectory once it is known (the
// clone service needs a directory when it starts, before the gather).
type lazyDirectory struct {
	mu sync.Mutex
	d  *gatheredDirectory
}

func (l *lazyDirectory) set(d *gatheredDirectory) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = d
}

func (l *lazyDirectory) get() *gatheredDirectory {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.d
}

// LookupClone implements cloneservice.Directory.
func (l *lazyDirectory) LookupClone(ctx context.Context, user peer.ID, dev string) (cloneservice.Clone, error) {
	if d := l.get(); d != nil {
		return d.LookupClone(ctx, user, dev)
	}
	return cloneservice.Clone{}, dht.ErrNotFound
}

// Resolve implements cloneservice.Directory.
func (l *lazyDirectory) Resolve(ctx context.Context, p peer.ID) (peer.AddrInfo, error) {
	if d := l.get(); d != nil {
		return d.Resolve(ctx, p)
	}
	return peer.AddrInfo{}, dht.ErrNotFound
}

// connectedPeers is how many peers the clone's current host is connected
// to (0 while it is away).
func (c *docClone) connectedPeers() int {
	if c.peer == nil {
		return 0
	}
	return len(c.peer.h.Network().Peers())
}
