package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/device/web"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/clone2clone/c2c/replication/scanwire"
)

// webMirror is the page's view of the phone's mirror: the same listings
// as c2c device files ls, inbox, outbox, downloads and scan.
type webMirror struct {
	m  *mirrorSession
	f  mirrorFlags
	mu sync.Mutex // one connect at a time
}

// connect (re)opens the sync session if it is not open: the page starts
// without it (the clone may be unreachable) and each request asks.
func (w *webMirror) connect(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.m.c.Status(ctx)
	if err != nil || st.Connected {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.f.timeout)
	defer cancel()
	return w.m.c.Connect(ctx)
}

func (w *webMirror) Views(ctx context.Context) ([]web.View, error) {
	if err := w.connect(ctx); err != nil {
		return nil, fmt.Errorf("the clone's mirror: %w", err)
	}
	serr := w.m.sync(ctx, &w.f)
	fv := web.View{Name: "files", Columns: []string{"path", "bytes", "sha256", "cid"}}
	iv := web.View{Name: "inbox", Columns: []string{"#", "from", "sent", "text", "files"}}
	ov := web.View{Name: "outbox", Columns: []string{"request and recipients"}}
	var list []*downloads.Item
	err := w.m.c.View(ctx, func(s *replication.AppSet) {
		for _, l := range filesApp(s).List() {
			if l.Dir {
				fv.Rows = append(fv.Rows, []string{l.Path + "/", "dir", "", ""})
				continue
			}
			fv.Rows = append(fv.Rows, []string{l.Path, fmt.Sprint(l.Ref.Size), hex.EncodeToString(l.Ref.SHA256[:8]), l.Ref.CID.String()})
		}
		a, _ := s.App(inbox.Name)
		app := a.(*inbox.App)
		for _, it := range app.List() {
			var names string
			for i, f := range it.Files {
				if i > 0 {
					names += ", "
				}
				names += fmt.Sprintf("%s (%d bytes, %s)", f.Name, f.Ref.Size, heldWhere(app, f))
			}
			iv.Rows = append(iv.Rows, []string{fmt.Sprint(it.NetSeq), inboxSender(it) + "/" + it.FromDevice,
				time.UnixMilli(int64(it.Sent)).UTC().Format(time.RFC3339), it.Text, names})
		}
		o, _ := s.App(outbox.Name)
		for _, l := range outboxLines(o.(*outbox.App)) {
			ov.Rows = append(ov.Rows, []string{l})
		}
		if _, ok := s.App(downloads.Name); ok {
			list = downloadsApp(s).List()
		}
	})
	if err != nil {
		return nil, err
	}
	dv := web.View{Name: "downloads", Columns: downloadColumns}
	for _, it := range list {
		dv.Rows = append(dv.Rows, downloadRow(ctx, w.m, it))
	}
	for _, v := range []*web.View{&fv, &iv, &ov, &dv} {
		if len(v.Rows) == 0 {
			v.Note = v.Name + " empty"
		}
	}
	if serr != nil {
		fv.Note = "not synced with the clone's mirror: " + serr.Error()
	}
	return []web.View{fv, iv, ov, dv}, nil
}

func (w *webMirror) Scan(ctx context.Context) (web.View, error) {
	if err := w.connect(ctx); err != nil {
		return web.View{}, fmt.Errorf("the clone's mirror: %w", err)
	}
	if err := w.m.sync(ctx, &w.f); err != nil {
		return web.View{}, fmt.Errorf("sending the device's changes to the mirror: %w", err)
	}
	_, r, err := scanwire.RequestReport(ctx, w.m.dev.h, w.m.dev.clone.ID, func(int, int) {})
	if err != nil {
		return web.View{}, fmt.Errorf("scan: %w", err)
	}
	v := web.View{Name: "scan", Columns: []string{"path", "verdict", "sha256", "cid"}, Note: scanSummary(r)}
	for _, e := range r.Files {
		v.Rows = append(v.Rows, []string{e.Path, scanVerdict(e), e.SHA256[:min(16, len(e.SHA256))], e.CID})
	}
	return v, nil
}
