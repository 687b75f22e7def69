package clonehost

// Sleeping clones. An idle hosted clone still costs CPU: its libp2p host,
// gossipsub router and DHT client each run timers (go-libp2p's address
// manager every 5 s, gossipsub's heartbeat and score decay, quic-go's
// and the peerstore's cleanups), about one wake-up a second per clone,
// none of which go-libp2p v0.51 lets a caller stop (docs/scale.md). So a
// clone that has held no connection and no document for
// Params.SleepAfter is closed, as Stop closes it but without the stopped
// mark, and its host holds what reaches it, at no cost while nothing
// comes: its UDP port (a socket in a blocked read) and its control
// socket (a listener in a blocked accept). The first datagram on the
// port, or the first connection of its owner, starts the clone again on
// the same port (node.ListenFile), with its state:
//
//   - a peer's, the sequencer's or its device's QUIC dial (a datagram that
//     looks like a QUIC Initial: isQUICInitial; others are dropped): the
//     datagram that woke the clone is lost, and the dialer's QUIC stack
//     sends its Initial again (a retransmission timeout, a few hundred
//     ms), which the started clone answers;
//   - its owner's control connection is handed to the started clone's
//     control socket (proxied), so the owner's request is answered;
//   - the operator's Start, Lookup from it, Stop and Export wake it or act
//     on it as on a running clone.
//
// A sleeping clone's records stay published: its hosting provider's
// replica keeps holding them and answering for its addresses
// (dht.Directory.HoldAddrs), and the DHT's copies outlive the 12 h
// republish interval; a clone asleep that long is woken to republish
// (sleepMax). Clones that listen on TCP too (Params.TCP) do not sleep:
// a TCP connection cannot be replayed to the started clone either way.

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// sleepMax is the longest a clone sleeps before it is woken to republish
// its records (dht's RepublishInterval is 12 h, its MaxRecordAge 48 h).
const sleepMax = 6 * time.Hour

// holder holds a sleeping clone's UDP port and control socket.
type holder struct {
	udp   *net.UDPConn
	ctl   net.Listener // nil if it could not be listened on
	timer *time.Timer  // wakes it after sleepMax
}

func (s *holder) close() {
	s.timer.Stop()
	_ = s.udp.Close()
	if s.ctl != nil {
		_ = s.ctl.Close()
	}
}

// sleepCheck is how often the host looks for clones to put to sleep.
func (p Params) sleepCheck() time.Duration {
	return min(max(p.SleepAfter/4, 10*time.Millisecond), 15*time.Second)
}

// sleepLoop puts clones to sleep once each has been idle (no connection,
// no document) for SleepAfter, until ctx ends.
func (h *Host) sleepLoop(ctx context.Context) {
	t := time.NewTicker(h.params.sleepCheck())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, e := range h.idleFor(now) {
				if err := h.sleep(e); err != nil {
					h.log.Warn("putting an idle clone to sleep", "clone", e.name, "err", err)
				}
			}
		}
	}
}

// idleFor updates each running clone's idle mark and returns those idle
// for SleepAfter at now.
func (h *Host) idleFor(now time.Time) []*entry {
	h.mu.Lock()
	running := make(map[*entry]*Clone, len(h.entries))
	for _, e := range h.entries {
		if e.clone != nil && !e.busy {
			running[e] = e.clone
		}
	}
	h.mu.Unlock()
	idle := make(map[*entry]bool, len(running))
	for e, c := range running { // outside h.mu: these ask the clones' hosts and services
		idle[e] = isIdle(c)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*entry
	for e, c := range running {
		switch {
		case e.clone != c:
			// Stopped or restarted meanwhile.
		case !idle[e]:
			e.idleSince = time.Time{}
		case e.idleSince.IsZero():
			e.idleSince = now
		case now.Sub(e.idleSince) >= h.params.SleepAfter:
			out = append(out, e)
		}
	}
	return out
}

// isIdle reports whether c may sleep: published, with no connection and
// no document.
func isIdle(c *Clone) bool {
	return len(c.Node.Host().Network().Conns()) == 0 && len(c.Services.Docs.Docs()) == 0 && published(c)
}

// sleep closes e's idle clone and holds its port and control socket.
func (h *Host) sleep(e *entry) error {
	h.mu.Lock()
	if e.busy || e.clone == nil || h.closed {
		h.mu.Unlock()
		return nil
	}
	e.busy = true
	c, stop, ready := e.clone, e.stop, e.ready
	h.mu.Unlock()
	udp, ok := udpListenAddr(c.Node.Host().Network().ListenAddresses())
	if !ok || !isIdle(c) { // no single UDP port to hold, or busy again since
		h.release(e)
		return nil
	}
	stop()
	<-ready
	err := c.close()
	h.mu.Lock()
	e.clone, e.idleSince = nil, time.Time{}
	h.mu.Unlock()
	if err != nil {
		h.log.Warn("closing an idle clone", "clone", e.name, "err", err)
	}
	s, err := h.hold(e, udp)
	if err != nil {
		// Its port is gone: start it again at once rather than lose it.
		h.log.Warn("holding a sleeping clone's port; starting it again", "clone", e.name, "err", err)
		return h.run(h.runCtx, e)
	}
	h.mu.Lock()
	closed := h.closed // Close closes the holders it finds, under h.mu
	if !closed {
		e.asleep = s
	}
	e.busy = false
	h.mu.Unlock()
	if closed {
		s.close()
		return nil
	}
	h.serve(e, s) // after e.asleep is s: a wake checks it
	h.log.Debug("clone asleep", "clone", e.name, "port", udp.Port)
	return nil
}

func published(c *Clone) bool {
	select {
	case <-c.Node.Published():
		return true
	default:
		return false
	}
}

// wakeID wakes the sleeping clone with peer ID id, if there is one, and
// returns it running (nil: no such clone, or it did not start).
func (h *Host) wakeID(id peer.ID) *Clone {
	h.mu.Lock()
	var e *entry
	for _, o := range h.entries {
		if o.cert.Clone == id {
			e = o
		}
	}
	var s *holder
	if e != nil {
		s = e.asleep
	}
	h.mu.Unlock()
	if s != nil {
		h.wake(e, s, nil, "lookup")
	}
	return h.Clone(id)
}

// udpListenAddr is the one UDP address of a clone that listens on no other
// socket (QUIC on one port; /p2p-circuit, the relay transport, has none).
func udpListenAddr(addrs []ma.Multiaddr) (*net.UDPAddr, bool) {
	var out *net.UDPAddr
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue // the relay transport's listener: no socket of its own
		}
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			return nil, false
		}
		port, err := a.ValueForProtocol(ma.P_UDP)
		if err != nil {
			return nil, false
		}
		ip, err := a.ValueForProtocol(ma.P_IP4)
		if err != nil {
			if ip, err = a.ValueForProtocol(ma.P_IP6); err != nil {
				return nil, false
			}
		}
		u, err := net.ResolveUDPAddr("udp", net.JoinHostPort(ip, port))
		if err != nil {
			return nil, false
		}
		if out != nil && !out.IP.Equal(u.IP) || out != nil && out.Port != u.Port {
			return nil, false
		}
		out = u
	}
	return out, out != nil
}

// hold binds e's UDP port and control socket (serve then waits on them).
func (h *Host) hold(e *entry, udp *net.UDPAddr) (*holder, error) {
	conn, err := net.ListenUDP("udp", udp)
	if err != nil {
		return nil, err
	}
	s := &holder{udp: conn}
	path := filepath.Join(h.dir, e.name, control.SocketFile)
	_ = os.Remove(path)
	if ln, err := net.Listen("unix", path); err != nil {
		h.log.Warn("holding a sleeping clone's control socket", "clone", e.name, "err", err)
	} else if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		h.log.Warn("holding a sleeping clone's control socket", "clone", e.name, "err", err)
	} else {
		s.ctl = ln
	}
	s.timer = time.AfterFunc(sleepMax, func() { h.wake(e, s, nil, "republish") })
	return s, nil
}

// serve wakes e, held by s, on the first QUIC Initial within the wake
// budget or the first control connection (hold's timer wakes it after
// sleepMax).
func (h *Host) serve(e *entry, s *holder) {
	h.wg.Go(func() {
		b := make([]byte, quicInitialMin)
		for {
			n, _, err := s.udp.ReadFromUDP(b)
			if err != nil {
				return // closed: woken another way, stopped, or the host closing
			}
			if isQUICInitial(b[:n]) && h.wakes.Allow() {
				h.wake(e, s, nil, "datagram")
				return
			}
		}
	})
	if s.ctl != nil {
		h.wg.Go(func() {
			if c, err := s.ctl.Accept(); err == nil {
				h.wake(e, s, c, "control")
			}
		})
	}
}

// wakeLimiter is the budget of datagram wakes: perSecond, twice that in a
// burst (0: no bound).
func wakeLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(2*perSecond)))
}

// quicInitialMin is the least UDP payload of a datagram that carries a
// client's QUIC Initial (RFC 9000, 14.1: padded to at least 1200 bytes).
const quicInitialMin = 1200

// isQUICInitial reports whether b may be a QUIC client's first datagram: a
// long header (RFC 9000, 17.2: form and fixed bits set) in a datagram of
// at least 1200 bytes (b, read into a buffer of that size, is then full).
// Anything else (a stray or small probe, a stale connection's short-header
// packet) leaves the clone asleep, so waking one costs a stranger a full
// datagram, and a wake costs the host at most one start per clone per
// SleepAfter, within the host's budget of Params.WakesPerSecond.
func isQUICInitial(b []byte) bool {
	return len(b) >= quicInitialMin && b[0]&0xc0 == 0xc0
}

// wake starts e's sleeping clone again (if s still holds it), then hands
// it ctl, the owner's control connection that woke it, if any.
func (h *Host) wake(e *entry, s *holder, ctl net.Conn, why string) {
	h.wakeHeld(e, s, why)
	if ctl != nil {
		// Not in h.wg: an owner's connection (a watch) may outlast Close's
		// wait for the holders, and the host's end closes it.
		go proxy(h.runCtx, ctl, filepath.Join(h.dir, e.name, control.SocketFile))
	}
}

// wakeHeld starts e's clone if s still holds it, and returns once e is
// running, stopped, or not held by s.
func (h *Host) wakeHeld(e *entry, s *holder, why string) {
	for {
		h.mu.Lock()
		if e.asleep != s || h.closed {
			h.mu.Unlock()
			return // woken, stopped or exported meanwhile
		}
		if !e.busy {
			e.busy = true
			h.mu.Unlock()
			break
		}
		h.mu.Unlock()
		// An admin operation (Stop, Start, Export) has it: it wakes or
		// stops it; wait for it to end.
		select {
		case <-h.runCtx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	h.log.Debug("waking clone", "clone", e.name, "by", why)
	if err := h.run(h.runCtx, e); err != nil {
		h.log.Warn("waking a clone", "clone", e.name, "err", err)
	}
}

// proxy copies between c and a new connection to the unix socket path
// (the woken clone's control socket) until either side is done or ctx
// ends; it closes both. If nothing listens there (the clone did not
// start, or was stopped), c is closed at once.
func proxy(ctx context.Context, c net.Conn, path string) {
	defer c.Close()
	d, err := net.Dial("unix", path)
	if err != nil {
		return
	}
	defer d.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close(); _ = d.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(d, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, d); done <- struct{}{} }()
	<-done
}

// unhold ends e's sleep without starting it (the caller has claimed e).
func (h *Host) unhold(e *entry) {
	h.mu.Lock()
	s := e.asleep
	e.asleep = nil
	h.mu.Unlock()
	if s != nil {
		s.close()
	}
}
