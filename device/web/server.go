package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/docsync"
)

//go:embed assets
var assets embed.FS

// Errors.
var (
	// ErrRemoteListen: a non-loopback listen address without allowRemote.
	ErrRemoteListen = errors.New("web: refusing to listen beyond loopback")
	// ErrClosed: the server was closed.
	ErrClosed = errors.New("web: closed")
)

// Params tune the server.
type Params struct {
	MaxMessage     int64         // largest page message, bytes
	MsgRate        float64       // page messages per second a session may send ...
	MsgBurst       float64       // ... with this much slack
	ByteRate       float64       // page bytes per second a session may send ...
	ByteBurst      float64       // ... with this much slack
	OutBuffer      int           // messages queued to a page before it counts as stuck
	PageHistory    int           // hub history kept for pages that lag (entries)
	ConnectTimeout time.Duration // one attempt to reach the clone
	ReconnectMin   time.Duration // first pause before reconnecting a dropped link
	ReconnectMax   time.Duration // longest pause
}

// DefaultParams returns the defaults: a person typing or pasting stays far
// inside them.
func DefaultParams() Params {
	return Params{MaxMessage: 1 << 20, MsgRate: 200, MsgBurst: 1000, ByteRate: 4 << 20, ByteBurst: 8 << 20,
		OutBuffer: 4096, PageHistory: 1 << 16, ConnectTimeout: 30 * time.Second,
		ReconnectMin: time.Second, ReconnectMax: 30 * time.Second}
}

// Validate reports a params set that cannot work.
func (p Params) Validate() error {
	if p.MaxMessage < 1024 || p.MsgRate <= 0 || p.MsgBurst < 1 || p.ByteRate <= 0 || p.ByteBurst < float64(p.MaxMessage) ||
		p.OutBuffer < 16 || p.PageHistory < 16 || p.ConnectTimeout <= 0 || p.ReconnectMin <= 0 || p.ReconnectMax < p.ReconnectMin {
		return fmt.Errorf("web: invalid params %+v", p)
	}
	return nil
}

// Option configures New.
type Option func(*Server) error

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(s *Server) error { s.params = p; return nil } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) error { s.log = l; return nil } }

// WithDocs lists the documents the page offers (called on every page load).
func WithDocs(f func() []docsync.DocID) Option {
	return func(s *Server) error { s.docs = f; return nil }
}

// WithPresence gives each document's presence (carets of the others;
// default ClientPresence, nil: none).
func WithPresence(f PresenceFunc) Option { return func(s *Server) error { s.presence = f; return nil } }

// WithName names this device on the page.
func WithName(name string) Option { return func(s *Server) error { s.name = name; return nil } }

// WithToken sets the token instead of a random one (tests).
func WithToken(tok string) Option { return func(s *Server) error { s.token = tok; return nil } }

// Server serves the page and its WebSocket for one device client.
type Server struct {
	c        *client.Client
	params   Params
	log      *slog.Logger
	docs     func() []docsync.DocID
	presence PresenceFunc
	mirror   Mirror
	name     string
	token    string
	static   http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	hubs   map[docsync.DocID]*hub
	closed bool
}

// New makes the server for c; its documents are opened (and connected) on
// the first page that shows them.
func New(c *client.Client, opts ...Option) (*Server, error) {
	s := &Server{c: c, params: DefaultParams(), log: slog.Default(), docs: func() []docsync.DocID { return nil },
		presence: ClientPresence, hubs: map[docsync.DocID]*hub{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	if s.token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		s.token = hex.EncodeToString(b)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	s.static = http.FileServerFS(sub)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Token is the per-run secret every request carries (?t=).
func (s *Server) Token() string { return s.token }

// URL is the page's address on a listener at addr.
func (s *Server) URL(addr net.Addr) string { return fmt.Sprintf("http://%s/?t=%s", addr, s.token) }

// Close ends every session and closes every document it opened.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// CheckListen refuses an address beyond loopback unless allowRemote.
func CheckListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web: listen address %q: %w", addr, err)
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w: %q (pass the flag that allows remote listens if you mean it)", ErrRemoteListen, addr)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// Handler serves the page (/, its assets) and the WebSocket (/ws).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		if !s.hostOK(r) {
			http.Error(w, "unexpected Host header", http.StatusMisdirectedRequest)
			return
		}
		switch r.URL.Path {
		case "/ws":
			if !s.tokenOK(r.URL.Query().Get("t")) {
				http.Error(w, "missing or wrong token", http.StatusForbidden)
				return
			}
			s.serveWS(w, r)
		case "/", "/index.html":
			if !s.tokenOK(r.URL.Query().Get("t")) {
				http.Error(w, "missing or wrong token: open the URL c2c device web printed", http.StatusForbidden)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			s.static.ServeHTTP(w, r)
		default:
			// The assets are public (they are in the binary); the data is
			// behind the token.
			s.static.ServeHTTP(w, r)
		}
	})
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// hostOK refuses a Host header naming something else than a loopback
// address (a DNS rebinding attack names the attacker's domain) unless the
// listener is meant to be remote: then only the token protects it.
func (s *Server) hostOK(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if isLoopbackHost(host) {
		return true
	}
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	lh, _, err := net.SplitHostPort(la.String())
	return err == nil && !isLoopbackHost(lh)
}

// checkOrigin accepts only the page's own origin.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin != "" && origin == "http://"+r.Host
}

// hubFor returns the document's hub, starting it on first use.
func (s *Server) hubFor(id docsync.DocID) (*hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if h := s.hubs[id]; h != nil {
		return h, nil
	}
	h, err := newHub(s, id)
	if err != nil {
		return nil, err
	}
	s.hubs[id] = h
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		h.run(s.ctx)
	}()
	return h, nil
}

func (s *Server) docList() []docInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.docs()
	out := make([]docInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, docInfo{ID: hex.EncodeToString(id[:]), Open: s.hubs[id] != nil})
	}
	return out
}
