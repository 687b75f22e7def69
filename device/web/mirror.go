package web

import (
	"context"
	"time"
)

// View is one of the phone's mirrored apps as a table for the page: files,
// inbox, outbox, downloads, a scan report.
type View struct {
	Name    string     `json:"name"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Note    string     `json:"note,omitempty"` // a line under the table (a summary, why it is empty)
}

// Mirror is what the page shows of the phone's mirror (c2c device web
// gives the device's sync client). Each call may talk to the clone.
type Mirror interface {
	// Views syncs with the clone's mirror and lists the apps.
	Views(ctx context.Context) ([]View, error)
	// Scan asks the clone for a signed antivirus report of the mirror.
	Scan(ctx context.Context) (View, error)
}

// WithMirror shows the phone's mirrored apps on the page.
func WithMirror(m Mirror) Option { return func(s *Server) error { s.mirror = m; return nil } }

// mirrorTimeout bounds one page request for the mirror's views or a scan.
const mirrorTimeout = 2 * time.Minute

// mirrorRequest answers a page's "mirror" or "scan" on its own goroutine
// (it talks to the clone); a session has at most one in flight.
func (se *session) mirrorRequest(t string) {
	s := se.s
	if s.mirror == nil {
		se.send(outMsg{T: t, Error: "this device process runs no mirror sync client"})
		return
	}
	if !se.mirrorBusy.CompareAndSwap(false, true) {
		return // the answer to the last one is on its way
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer se.mirrorBusy.Store(false)
		ctx, cancel := context.WithTimeout(s.ctx, mirrorTimeout)
		defer cancel()
		m := outMsg{T: t}
		var err error
		if t == inScan {
			var v View
			v, err = s.mirror.Scan(ctx)
			m.Views = []View{v}
		} else {
			m.Views, err = s.mirror.Views(ctx)
		}
		if err != nil {
			m.Error = err.Error()
		}
		se.send(m)
	}()
}
