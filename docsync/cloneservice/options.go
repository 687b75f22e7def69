package cloneservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/presence"
	"github.com/clone2clone/c2c/internal/clock"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Directory finds clones (node adapts the dht directory to it).
type Directory interface {
	// LookupClone returns the clone of (user, device), from a record the
	// directory verified (the user's owner certificate).
	LookupClone(ctx context.Context, user peer.ID, device string) (Clone, error)
	// Resolve returns a clone's current addresses.
	Resolve(ctx context.Context, clone peer.ID) (peer.AddrInfo, error)
}

// Clone is what the directory says of a clone.
type Clone struct {
	Peer  peer.ID        // the clone's peer ID (its document key)
	HPKE  []byte         // its HPKE public key: document keys are wrapped to it
	Addrs []ma.Multiaddr // address hints
}

// Params are the service's tuning numbers.
type Params struct {
	// Tick is the period of the loop's timer (resubmits, heads, retries).
	Tick time.Duration
	// ResubmitAfter re-sends an in-flight envelope not committed by then.
	ResubmitAfter time.Duration
	// HeadInterval and HeadGossipers pace the head gossip of a document
	// whose log moves: each member gossips its head at most every
	// HeadInterval x members / HeadGossipers (at least HeadInterval), so
	// that the members together gossip about HeadGossipers heads per
	// HeadInterval, however many they are. Each member gossiping every
	// HeadInterval had N members each verify N heads per interval.
	HeadInterval  time.Duration
	HeadGossipers int
	// HeadRepeat re-gossips an unchanged head this often.
	HeadRepeat time.Duration
	// GapWait is how long a gap in the log may stay before it is fetched:
	// gossipsub does not keep order, and an entry that overtook another,
	// or a head gossiped by a member that is ahead, shows a gap that the
	// entries in flight fill a moment later. Fetching at once asked the
	// sequencer for them again, and verified them twice.
	GapWait time.Duration
	// FetchRetry re-asks for a range that is still missing after this long.
	FetchRetry time.Duration
	// DialInterval is how often member connections are checked; an
	// unreachable member is dialled again after DialInterval, doubling up
	// to 30 s (heal.go), not after libp2p's own backoff.
	DialInterval time.Duration
	// MemberDials is how many member clones each document keeps connections to.
	MemberDials int
	// StreamTimeout bounds one stream exchange.
	StreamTimeout time.Duration
	// TopicWait bounds the wait for the sequencer to show on a document's
	// submit topic before an envelope goes to it on a stream instead.
	TopicWait time.Duration
	// SubscriberBuffer is the event buffer of one subscription.
	SubscriberBuffer int
	// MaxDocs caps the documents this clone tracks.
	MaxDocs int
	// MaxUnverifiedDocs caps the joined documents of which no entry has
	// verified yet (an invitation's log still to be fetched): what an
	// accepted inviter can make this clone hold before anything checks out.
	MaxUnverifiedDocs int
	// InviteRate bounds the invitations one peer may send, checked before
	// anything of the stream is read.
	InviteRate guard.Rate
	// HistoryRate bounds the history requests one peer may make.
	HistoryRate guard.Rate
	// MaxPeers caps the peers the rate limiters track at once.
	MaxPeers int
	// RefusalLogInterval: a peer's refusals are logged at info at most this often.
	RefusalLogInterval time.Duration
	// StallAfter raises the sequencer-stalled alarm when the sequencer has
	// withheld this long: no entry for our submitted envelope, missing
	// entries it does not serve, or (timed on our clock from the first
	// claim) a current member claims its envelope waits while the head
	// does not move.
	StallAfter time.Duration
	// EvidenceRate bounds the evidence messages one peer may gossip to us
	// (each costs a few signature checks).
	EvidenceRate guard.Rate
	// WaitClaimRate bounds the wait claims one peer may gossip to us
	// (each costs a signature check). A member that waits for an entry
	// claims so every HeadRepeat, so one relaying peer forwards about
	// waiting members / HeadRepeat of them.
	WaitClaimRate guard.Rate
	// SnapshotEvery seals a snapshot every this many committed entries (0:
	// never); KeepHistory entries before the latest snapshot stay on disk,
	// older ones are compacted away (snapshots.go). SnapshotWindow is the
	// seqs before its head a snapshot covers (docsync.SealSnapshot).
	SnapshotEvery, KeepHistory uint64
	SnapshotWindow             int
	// FeedRetry is the first wait before a document's feed of entries
	// (netproto.FeedProtocol) is opened again after it failed or ended;
	// it doubles up to FeedRetryMax while the feed delivers nothing.
	FeedRetry, FeedRetryMax time.Duration
	// FeedRate bounds the entries one document's feed may deliver; a feed
	// past it is closed (the entries are then fetched).
	FeedRate guard.Rate
	// Replica tunes each docsync.Replica.
	Replica docsync.Params
	// Presence bounds members' carets (presence.go): rate, expiry, refresh.
	Presence presence.Params
	// DormantAfter: a document with nothing under way and no new entry for
	// this long leaves its topics' meshes until something happens
	// (dormant.go); 0: never.
	DormantAfter time.Duration
}

// DefaultParams returns the default Params.
func DefaultParams() Params {
	return Params{Tick: 100 * time.Millisecond, ResubmitAfter: 2 * time.Second,
		HeadInterval: 200 * time.Millisecond, HeadGossipers: 4, HeadRepeat: 2 * time.Second,
		GapWait: 100 * time.Millisecond, FetchRetry: time.Second, DialInterval: 2 * time.Second, MemberDials: 8,
		StreamTimeout: 10 * time.Second, TopicWait: 2 * time.Second, SubscriberBuffer: 1024, MaxDocs: 1000,
		MaxUnverifiedDocs: 16, InviteRate: guard.Rate{PerSecond: 1, Burst: 32},
		HistoryRate: guard.Rate{PerSecond: 50, Burst: 200}, MaxPeers: 4096,
		RefusalLogInterval: time.Minute, StallAfter: 30 * time.Second,
		EvidenceRate: guard.Rate{PerSecond: 1, Burst: 8}, WaitClaimRate: guard.Rate{PerSecond: 8, Burst: 32},
		SnapshotEvery: 1024, KeepHistory: 4096, SnapshotWindow: docsync.DefaultSnapshotWindow,
		FeedRetry: 250 * time.Millisecond, FeedRetryMax: 10 * time.Second,
		FeedRate: guard.Rate{PerSecond: 2000, Burst: 2 * netproto.MaxFeedCatchUp},
		Replica:  docsync.DefaultParams(), Presence: presence.DefaultParams(), DormantAfter: time.Minute}
}

// Validate checks the params.
func (p Params) Validate() error {
	if p.Tick <= 0 || p.ResubmitAfter <= 0 || p.HeadInterval <= 0 || p.HeadGossipers < 1 || p.HeadRepeat <= 0 ||
		p.GapWait <= 0 || p.FetchRetry <= 0 || p.DialInterval <= 0 || p.MemberDials < 0 || p.StreamTimeout <= 0 || p.TopicWait <= 0 ||
		p.SubscriberBuffer < 1 || p.MaxDocs < 1 || p.MaxUnverifiedDocs < 1 || p.MaxPeers < 1 ||
		p.InviteRate.Burst < 1 || p.HistoryRate.Burst < 1 || p.RefusalLogInterval <= 0 ||
		p.StallAfter <= 0 || p.EvidenceRate.Burst < 1 || p.WaitClaimRate.Burst < 1 ||
		(p.SnapshotEvery > 0 && (p.SnapshotWindow < 1 || p.SnapshotWindow > docsync.MaxSnapshotWindow)) ||
		p.FeedRetry <= 0 || p.FeedRetryMax < p.FeedRetry || p.FeedRate.Burst < 1 || p.DormantAfter < 0 {
		return fmt.Errorf("%w: %+v", ErrInvalidParams, p)
	}
	if err := p.Presence.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidParams, err)
	}
	return nil
}

// Option configures New.
type Option func(*options) error

type options struct {
	params Params
	log    *slog.Logger
	reg    prometheus.Registerer
	dir    Directory
	accept InvitePolicy
	cred   []byte
	now    func() time.Time
	ticker clock.TickerFunc
	net    Net
	// standby is where this clone moves a stalled document it administers.
	standby *peer.AddrInfo
	sigs    *docsync.SigCache
}

// processSigs is the default WithSigCache: every clone of the process
// shares it, so that the clones a provider hosts (c2c provider
// --host-clones) verify each entry's signatures once between them. 16,384
// signatures, about 1.5 MiB: at 150 entries a second, a head and an
// envelope each, the last minute or so.
var processSigs = docsync.NewSigCache(1 << 14)

// ProcessSigStats are the hits and misses of the default signature cache
// (the simulation reports them: a miss is a curve verification).
func ProcessSigStats() (hits, misses uint64) { return processSigs.Stats() }

// WithSigCache sets the cache of verified signatures the service checks
// entries and heads with (default: one shared by the clones of this
// process; nil verifies every signature every time).
func WithSigCache(c *docsync.SigCache) Option {
	return func(o *options) error { o.sigs = c; return nil }
}

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(o *options) error { o.params = p; return nil } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("cloneservice: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithMetrics registers the service's Prometheus metrics with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) error { o.reg = reg; return nil }
}

// WithClock sets the time the policies read (default time.Now): when an
// envelope is due again, a fetch retried, a member dialed, a head
// gossiped, a quota refilled. Stream deadlines stay on the real time.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("cloneservice: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithTicker sets how the loop makes its tickers (default time.NewTicker):
// newTicker returns a ticker's channel and its stop function.
func WithTicker(newTicker func(d time.Duration) (<-chan time.Time, func())) Option {
	return func(o *options) error {
		if newTicker == nil {
			return errors.New("cloneservice: nil ticker")
		}
		o.ticker = newTicker
		return nil
	}
}

// WithNet sets how the policies reach peers off the topics (default: the
// host's streams and dials).
func WithNet(n Net) Option {
	return func(o *options) error {
		if n == nil {
			return errors.New("cloneservice: nil net")
		}
		o.net = n
		return nil
	}
}

// WithDirectory sets the directory used by Invite and to reach members.
func WithDirectory(d Directory) Option { return func(o *options) error { o.dir = d; return nil } }

// Inviter is what a clone knows of the sender of an invitation when its
// invite policy decides. The invitation itself has verified by then
// (netproto.Invitation.Verify): Peer signed the op that added this clone.
type Inviter struct {
	Peer peer.ID // the inviting clone, authenticated by the stream
	// Credential is the owner certificate the inviter sent, unverified
	// bytes (a contacts policy decodes and checks it); may be empty.
	Credential []byte
	// Member: Peer is a member of a document this clone already holds.
	Member bool
}

// InvitePolicy decides whether to accept a verified invitation.
type InvitePolicy func(from Inviter, inv *netproto.Invitation) bool

// AcceptMembers, the default policy, accepts invitations from members of
// the documents this clone holds. node.ContactPolicy adds the user's
// contacts, which is what `c2c clone` runs.
func AcceptMembers(from Inviter, _ *netproto.Invitation) bool { return from.Member }

// AcceptAll accepts every invitation that verifies: for closed networks
// whose peers are all known (simulations, tests). The limits still apply.
func AcceptAll(Inviter, *netproto.Invitation) bool { return true }

// WithInvitePolicy decides which verified invitations to accept (default
// AcceptMembers). An invitation that does not verify is refused before the
// policy is asked.
func WithInvitePolicy(f InvitePolicy) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("cloneservice: nil invite policy")
		}
		o.accept = f
		return nil
	}
}

// WithCredential sets the credential this clone attaches to the
// invitations it sends: its owner certificate's bytes, so that invitees
// can accept it as one of their contacts.
func WithCredential(b []byte) Option {
	return func(o *options) error {
		if len(b) > netproto.MaxCredentialBytes {
			return fmt.Errorf("cloneservice: credential of %d bytes, cap %d", len(b), netproto.MaxCredentialBytes)
		}
		o.cred = b
		return nil
	}
}

// Sentinel errors.
var (
	// ErrInvalidParams: Params failed Validate.
	ErrInvalidParams = errors.New("cloneservice: invalid params")
	// ErrUnknownDoc: this clone does not track the document.
	ErrUnknownDoc = errors.New("cloneservice: unknown document")
	// ErrNoDirectory: Invite needs WithDirectory.
	ErrNoDirectory = errors.New("cloneservice: no directory configured")
	// ErrTooManyDocs: the clone tracks MaxDocs documents already.
	ErrTooManyDocs = errors.New("cloneservice: document limit reached")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("cloneservice: closed")
	// ErrStorage: a datastore write failed; the document stopped.
	ErrStorage = errors.New("cloneservice: storage failure")
	// ErrRefused: the peer refused an invitation.
	ErrRefused = errors.New("cloneservice: invitation refused")
	// ErrTooManyUnverified: MaxUnverifiedDocs joined documents still wait
	// for their first verified entry.
	ErrTooManyUnverified = errors.New("cloneservice: too many documents still unverified")
	// ErrNotMember: a history request from a peer that is no member.
	ErrNotMember = errors.New("cloneservice: not a member of the document")
	// ErrRateLimited: a peer sent requests faster than its quota.
	ErrRateLimited = errors.New("cloneservice: rate limited")
)
