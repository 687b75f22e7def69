package scanwire

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/files"
)

// A File is one file of the mirror.
type File struct {
	Path string
	Ref  boxostore.Ref
}

// A Lister returns every file of the mirror.
type Lister func(ctx context.Context) ([]File, error)

// FilesLister lists the files app through view (the mirror server's
// View, which runs on its loop and gives nil before the device's first
// Hello: no files yet).
func FilesLister(view func(ctx context.Context, f func(*replication.AppSet)) error) Lister {
	return func(ctx context.Context) ([]File, error) {
		var out []File
		err := view(ctx, func(s *replication.AppSet) {
			if s == nil { // no mirror before the device's first Hello
				return
			}
			a, ok := s.App(files.Name)
			if !ok {
				return
			}
			for _, l := range a.(*files.App).List() {
				if !l.Dir {
					out = append(out, File{l.Path, l.Ref})
				}
			}
		})
		return out, err
	}
}

// Arrival scans the files that arrive in the mirror. As a mirror observer
// it only kicks its worker (it runs on the mirror's loop and must not
// block); the worker lists the files and checks those with no verdict
// under the current database version. It also syncs the provider's
// manifest every poll, so a new version rescans the mirror.
type Arrival struct {
	c    *Client
	list Lister
	log  *slog.Logger
	poll time.Duration

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu                sync.Mutex
	started, passes   uint64
	checked, infected int
	passed            chan struct{} // closed and replaced after each pass
}

// NewArrival returns the arrival scanner; Start runs it.
func NewArrival(c *Client, list Lister, log *slog.Logger, poll time.Duration) *Arrival {
	return &Arrival{c: c, list: list, log: log, poll: poll, kick: make(chan struct{}, 1), passed: make(chan struct{})}
}

// Replayed is part of mirrorservice.Observer: a batch was replayed, so
// files may have arrived.
func (a *Arrival) Replayed(replication.Replayed, int) { a.Kick() }

// Notice is part of mirrorservice.Observer.
func (a *Arrival) Notice(replication.Notice) {}

// Outputs is part of mirrorservice.Observer.
func (a *Arrival) Outputs([]replication.AppOutput) {}

// Client is the client the worker checks files with.
func (a *Arrival) Client() *Client { return a.c }

// Kick asks for a pass without blocking.
func (a *Arrival) Kick() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Start runs the worker until Close: a pass at once, on each kick, and a
// manifest sync (and pass) every poll.
func (a *Arrival) Start(ctx context.Context) {
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		t := time.NewTicker(a.poll)
		defer t.Stop()
		a.sync(ctx)
		for {
			if err := a.Pass(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("scan on arrival", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-a.kick:
			case <-t.C:
				a.sync(ctx)
			}
		}
	}()
}

func (a *Arrival) sync(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if m, err := a.c.Sync(sctx); err != nil {
		a.log.Warn("scanner signature database", "provider", a.c.Provider(), "err", err)
	} else {
		a.log.Debug("scanner signature database", "version", m.Version)
	}
}

// Close stops the worker.
func (a *Arrival) Close() error {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	return nil
}

// Pass checks every file with no verdict under the current version.
func (a *Arrival) Pass(ctx context.Context) error {
	a.mu.Lock()
	a.started++
	a.mu.Unlock()
	defer a.endPass()
	list, err := a.list(ctx)
	if err != nil {
		return err
	}
	var firstErr error
	infected := 0
	for _, f := range list {
		v, ok := a.c.Stored(ctx, f.Ref.SHA256)
		if !ok || v.Version < a.c.Version() {
			if v, err = a.c.CheckRetry(ctx, f.Ref); err != nil {
				firstErr = cmpErr(firstErr, err)
				continue
			}
			a.mu.Lock()
			a.checked++
			a.mu.Unlock()
			if v.Verdict.Infected {
				a.log.Warn("infected file in the mirror", "path", f.Path, "signature", v.Verdict.Name, "db_version", v.Version)
			}
		}
		if v.Verdict.Infected {
			infected++
		}
	}
	a.mu.Lock()
	a.infected = infected
	a.mu.Unlock()
	return firstErr
}

func (a *Arrival) endPass() {
	a.mu.Lock()
	a.passes++
	close(a.passed)
	a.passed = make(chan struct{})
	a.mu.Unlock()
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Stats returns how many verdicts the worker fetched since it started
// (one per new file, and per file again for each new database version),
// how many of the mirror's files were infected at the last pass, and how
// many passes it made.
func (a *Arrival) Stats() (checked, infected int, passes uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checked, a.infected, a.passes
}

// Rescan asks for a pass and returns once a pass that started after the
// call has ended.
func (a *Arrival) Rescan(ctx context.Context) error {
	a.mu.Lock()
	target := a.started + 1
	a.mu.Unlock()
	a.Kick()
	a.mu.Lock()
	for a.passes < target {
		ch := a.passed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		a.mu.Lock()
	}
	a.mu.Unlock()
	return nil
}
