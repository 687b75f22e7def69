package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Role is what a node does in the overlay; it decides the DHT mode, the
// directory options and which files the data dir must hold.
type Role string

// The roles of docs/architecture.md, section 1.
const (
	RoleProvider  Role = "provider"
	RoleClone     Role = "clone"
	RoleSequencer Role = "sequencer"
	RoleDevice    Role = "device"
)

// Files and directories inside a node's data dir.
const (
	IdentityFile  = "identity.key"  // libp2p identity (Ed25519), mode 0600
	HPKEKeyFile   = "hpke.key"      // clone: HPKE private key, mode 0600
	OwnerCertFile = "owner.cert"    // clone: owner certificate from `c2c enroll`
	IndexFile     = "devices.index" // clone: the user's signed device index (optional)
	DatastoreDir  = "datastore"     // go-ds-pebble
)

var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("node: invalid config")
	// ErrNoOwnerCert means a clone's data dir holds no owner certificate.
	ErrNoOwnerCert = errors.New("node: no owner certificate")
	// ErrCertMismatch means the owner certificate names another clone or HPKE key.
	ErrCertMismatch = errors.New("node: owner certificate does not match this clone")
	// ErrClosed is returned by operations on a closed node.
	ErrClosed = errors.New("node: closed")
)

// Config says what node to build. Build it with DefaultConfig and adjust.
type Config struct {
	Role    Role
	DataDir string
	// ListenAddrs are the TCP and QUIC listen multiaddrs.
	ListenAddrs []ma.Multiaddr
	// Bootstrap are the providers to join through; clones and devices need
	// at least one. A provider lists the other providers (its own ID is
	// skipped).
	Bootstrap []peer.AddrInfo
	Params    Params
}

// DefaultListenAddrs listens on every interface, on a random TCP port and a
// random QUIC port.
func DefaultListenAddrs() []ma.Multiaddr { return ListenAddrsOn("0.0.0.0") }

// LoopbackListenAddrs listens on 127.0.0.1 only (tests, demo).
func LoopbackListenAddrs() []ma.Multiaddr { return ListenAddrsOn("127.0.0.1") }

// ListenAddrsOn listens on one IPv4 address, on a random TCP port and a
// random QUIC port. It panics if ip is not an IPv4 address (callers pass
// constants or an address they got from the system).
func ListenAddrsOn(ip string) []ma.Multiaddr {
	return []ma.Multiaddr{
		ma.StringCast("/ip4/" + ip + "/tcp/0"),
		ma.StringCast("/ip4/" + ip + "/udp/0/quic-v1"),
	}
}

// DefaultConfig is the config of a role with default listen addresses and
// parameters.
func DefaultConfig(role Role, dataDir string) Config {
	return Config{
		Role:        role,
		DataDir:     dataDir,
		ListenAddrs: DefaultListenAddrs(),
		Params:      DefaultParams(role),
	}
}

// Validate reports the first problem with c, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch c.Role {
	case RoleProvider, RoleClone, RoleSequencer, RoleDevice:
	default:
		return bad("unknown role %q", c.Role)
	}
	if c.DataDir == "" {
		return bad("empty data dir")
	}
	if !filepath.IsAbs(c.DataDir) {
		return bad("data dir %q is not absolute", c.DataDir)
	}
	if len(c.ListenAddrs) == 0 && c.Role != RoleDevice {
		return bad("role %s needs at least one listen address", c.Role)
	}
	if len(c.Bootstrap) == 0 && (c.Role == RoleClone || c.Role == RoleDevice) {
		return bad("role %s needs at least one bootstrap provider", c.Role)
	}
	for _, b := range c.Bootstrap {
		if b.ID == "" || len(b.Addrs) == 0 {
			return bad("bootstrap peer %v needs an ID and an address", b)
		}
	}
	return c.Params.Validate()
}

// Params are the tuning numbers of a node.
type Params struct {
	// Connection manager watermarks and grace period.
	ConnsLow, ConnsHigh int
	ConnGrace           time.Duration
	// ConnCheck is how often the connection manager looks whether it is
	// above its high watermark (0: connmgr's 10 s).
	ConnCheck time.Duration
	// GossipHeartbeat is gossipsub's heartbeat, and its score decay
	// interval (0: gossipsub's 1 s). Each heartbeat wakes the node: a
	// provider hosting thousands of idle clones sets it longer.
	GossipHeartbeat time.Duration
	// IdleConnTimeout, if set, closes every connection at least this old
	// that carries nothing but gossipsub, kad, identify and ping streams
	// and leads to no document peer (idleconns.go), and makes the
	// bootstrapper keep the providers in the routing table rather than
	// connected. Hosted clones set it: an idle one then holds no
	// connection at all (with kad's own table refresh off, as they run
	// it: a refresh dials the table). 0: connections stay (the
	// connection manager's watermarks still trim).
	IdleConnTimeout time.Duration
	// Resource manager: total connections and streams, and connections
	// per IPv4 address (/32) and IPv6 /56. A provider serving thousands of
	// clones behind one NAT needs these far above rcmgr's default of 8.
	MaxConns, MaxStreams int
	MaxConnsPerIP        int
	// Inbound connection rate per IP (connections per second, and burst);
	// rcmgr's default is 0.2/s with a burst of 16.
	ConnRatePerIP  float64
	ConnBurstPerIP int
	// Per peer (one libp2p identity, wherever it connects from): inbound
	// streams open at once, and connections. These hold from loopback too.
	StreamsPerPeer int
	ConnsPerPeer   int
	// LimitLoopback applies the per-IP connection and rate limits to
	// loopback addresses as well (rcmgr exempts them by default, which is
	// what the demo's many hosts on 127.0.0.1 need; tests of the limits
	// turn it on).
	LimitLoopback bool
	// Bootstrap: dial timeout and the exponential backoff between
	// re-dials of a provider we lost.
	DialTimeout      time.Duration
	BackoffMin       time.Duration
	BackoffMax       time.Duration
	BackoffJitter    float64 // fraction of the delay, in [0, 1)
	RecheckInterval  time.Duration
	PublishRetryMin  time.Duration
	PublishRetryMax  time.Duration
	PublishTimeout   time.Duration
	ShutdownDeadline time.Duration
}

// DefaultParams are the parameters of a role. Providers get limits sized for
// thousands of clones; the others get ordinary peer limits.
func DefaultParams(role Role) Params {
	p := Params{
		ConnsLow:         100,
		ConnsHigh:        400,
		ConnGrace:        time.Minute,
		MaxConns:         1024,
		MaxStreams:       8192,
		MaxConnsPerIP:    64,
		ConnRatePerIP:    2,
		ConnBurstPerIP:   64,
		StreamsPerPeer:   256,
		ConnsPerPeer:     8,
		DialTimeout:      10 * time.Second,
		BackoffMin:       500 * time.Millisecond,
		BackoffMax:       30 * time.Second,
		BackoffJitter:    0.2,
		RecheckInterval:  30 * time.Second,
		PublishRetryMin:  time.Second,
		PublishRetryMax:  time.Minute,
		PublishTimeout:   30 * time.Second,
		ShutdownDeadline: 10 * time.Second,
	}
	if role == RoleProvider {
		p.ConnsLow = 4000
		p.ConnsHigh = 16000
		p.MaxConns = 20000
		p.MaxStreams = 200000
		p.MaxConnsPerIP = 16000
		p.ConnRatePerIP = 200
		p.ConnBurstPerIP = 4000
	}
	if role == RoleDevice {
		p.ConnsLow, p.ConnsHigh = 8, 32
	}
	return p
}

// Validate reports nonsensical parameters, wrapped in ErrInvalidConfig.
func (p Params) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case p.ConnsLow <= 0 || p.ConnsHigh < p.ConnsLow:
		return bad("connection watermarks low=%d high=%d", p.ConnsLow, p.ConnsHigh)
	case p.MaxConns < p.ConnsHigh:
		return bad("MaxConns %d below ConnsHigh %d", p.MaxConns, p.ConnsHigh)
	case p.MaxStreams <= 0 || p.MaxConnsPerIP <= 0:
		return bad("MaxStreams %d, MaxConnsPerIP %d", p.MaxStreams, p.MaxConnsPerIP)
	case p.StreamsPerPeer <= 0 || p.ConnsPerPeer <= 0:
		return bad("StreamsPerPeer %d, ConnsPerPeer %d", p.StreamsPerPeer, p.ConnsPerPeer)
	case p.ConnRatePerIP <= 0 || p.ConnBurstPerIP <= 0:
		return bad("connection rate %v burst %d", p.ConnRatePerIP, p.ConnBurstPerIP)
	case p.DialTimeout <= 0 || p.PublishTimeout <= 0 || p.RecheckInterval <= 0:
		return bad("timeouts must be positive")
	case p.BackoffMin <= 0 || p.BackoffMax < p.BackoffMin:
		return bad("backoff min=%v max=%v", p.BackoffMin, p.BackoffMax)
	case p.PublishRetryMin <= 0 || p.PublishRetryMax < p.PublishRetryMin:
		return bad("publish retry min=%v max=%v", p.PublishRetryMin, p.PublishRetryMax)
	case p.ConnCheck < 0 || p.GossipHeartbeat < 0 || p.IdleConnTimeout < 0:
		return bad("ConnCheck %v, GossipHeartbeat %v, IdleConnTimeout %v", p.ConnCheck, p.GossipHeartbeat, p.IdleConnTimeout)
	case p.BackoffJitter < 0 || p.BackoffJitter >= 1:
		return bad("backoff jitter %v outside [0, 1)", p.BackoffJitter)
	}
	return nil
}
