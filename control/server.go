package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Resolver finds the addresses of a peer given only its ID (the node's DHT).
type Resolver func(ctx context.Context, id peer.ID) (peer.AddrInfo, error)

// Params are the server's tuning numbers.
type Params struct {
	// OpTimeout bounds one operation that waits for the network
	// (create, invite, remove, edit).
	OpTimeout time.Duration
	// MaxBody caps a request body.
	MaxBody int64
	// MaxLog caps the entries of one log request.
	MaxLog uint64
}

// DefaultParams returns the default Params.
func DefaultParams() Params {
	return Params{OpTimeout: 2 * time.Minute, MaxBody: 2 << 20, MaxLog: 10000}
}

// Option configures NewServer.
type Option func(*Server)

// WithResolver lets create take a bare sequencer peer ID.
func WithResolver(r Resolver) Option { return func(s *Server) { s.resolve = r } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithParams sets the tuning numbers.
func WithParams(p Params) Option { return func(s *Server) { s.params = p } }

// Server serves the control API of one clone's document service.
type Server struct {
	svc     *cloneservice.Service
	self    peer.ID
	resolve Resolver
	log     *slog.Logger
	params  Params

	http    *http.Server
	ln      net.Listener
	path    string
	done    chan struct{}
	closing chan struct{} // closed by Close: event streams end
	once    sync.Once
	cerr    error
}

// NewServer returns a server for svc (self is the clone's peer ID); Listen
// starts it.
func NewServer(svc *cloneservice.Service, self peer.ID, opts ...Option) *Server {
	s := &Server{svc: svc, self: self, log: slog.Default(), params: DefaultParams()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Listen creates the unix socket at path (mode 0600; a stale socket left by
// a killed clone is replaced) and serves on it until Close. The socket's
// directory must not be accessible to group or others (ErrInsecureSocket).
func (s *Server) Listen(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("control: socket dir: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %v, want 0700", ErrInsecureSocket, dir, st.Mode().Perm())
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("control: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("control: remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control: listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control: chmod socket: %w", err)
	}
	ln = &ownerListener{Listener: ln, log: s.log}
	s.ln, s.path, s.done, s.closing = ln, path, make(chan struct{}), make(chan struct{})
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control server stopped", "err", err)
		}
	}()
	s.log.Info("control API listening", "socket", path)
	return nil
}

// Path is the socket path.
func (s *Server) Path() string { return s.path }

// Close stops the server (open event streams end) and removes the socket.
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	s.once.Do(func() { s.cerr = s.shutdown() })
	return s.cerr
}

func (s *Server) shutdown() error {
	close(s.closing)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = s.http.Close()
	}
	<-s.done
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/docs", s.listDocs)
	mux.HandleFunc("POST /v1/docs", s.create)
	mux.HandleFunc("GET /v1/docs/{doc}", s.show)
	mux.HandleFunc("DELETE /v1/docs/{doc}", s.forget)
	mux.HandleFunc("GET /v1/docs/{doc}/members", s.members)
	mux.HandleFunc("POST /v1/docs/{doc}/invite", s.invite)
	mux.HandleFunc("POST /v1/docs/{doc}/remove", s.remove)
	mux.HandleFunc("POST /v1/docs/{doc}/edit", s.edit)
	mux.HandleFunc("GET /v1/docs/{doc}/log", s.logEntries)
	mux.HandleFunc("GET /v1/docs/{doc}/events", s.events)
	mux.HandleFunc("GET /v1/docs/{doc}/evidence", s.evidence)
	mux.HandleFunc("POST /v1/docs/{doc}/move", s.move)
	return mux
}

// ownerListener drops connections that checkPeer refuses.
type ownerListener struct {
	net.Listener
	log *slog.Logger
}

func (l *ownerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := checkPeer(c); err != nil {
			l.log.Warn("control connection refused", "err", err)
			c.Close()
			continue
		}
		return c, nil
	}
}
