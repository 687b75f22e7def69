package scanwire

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/scan"
)

type fileList struct {
	mu    sync.Mutex
	files []File
}

func (l *fileList) add(f File) { l.mu.Lock(); l.files = append(l.files, f); l.mu.Unlock() }
func (l *fileList) list(context.Context) ([]File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]File(nil), l.files...), nil
}

// A file that arrives is scanned by the worker, once.
func TestArrivalScansNewFiles(t *testing.T) {
	ctx := ctxT(t)
	prov, p, _ := startProvider(t)
	c := newClone(t, prov)
	var l fileList
	a := NewArrival(c.c, l.list, slog.New(slog.DiscardHandler), time.Hour)
	a.Start(ctx)
	defer a.Close()
	l.add(File{"docs/readme.txt", c.add(t, []byte("hello"))})
	l.add(File{"dl/eicar.com", c.add(t, scan.EICAR())})
	if err := a.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	if s, inf, _ := a.Stats(); s != 2 || inf != 1 {
		t.Fatalf("scanned %d, infected %d; want 2, 1", s, inf)
	}
	if err := a.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := a.Stats(); s != 2 || p.CacheLen() != 2 {
		t.Fatalf("a second pass scanned again: %d (cache %d)", s, p.CacheLen())
	}
}

// The report lists every file with its verdict, verifies offline, and a
// changed byte of it does not; only the clone's device may ask for it.
func TestReport(t *testing.T) {
	ctx := ctxT(t)
	prov, _, _ := startProvider(t)
	c := newClone(t, prov)
	dev := newHost(t)
	connect(t, dev, c.h)
	var l fileList
	l.add(File{"a.txt", c.add(t, []byte("plain text"))})
	l.add(File{"b/inside.bin", c.add(t, append(append(bytes.Repeat([]byte{1}, 300<<10), scan.EICAR()...), bytes.Repeat([]byte{2}, 300<<10)...))})
	stop := ServeReports(c.h, dev.ID(), c.c, l.list, slog.New(slog.DiscardHandler))
	defer stop()
	var steps []string
	raw, r, err := RequestReport(ctx, dev, c.h.ID(), func(d, n int) { steps = append(steps, strings.Repeat("#", d)+"/"+strings.Repeat("#", n)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != 2 || r.Infected != 1 || !r.Files[1].Infected || r.Files[1].Name != scan.EICARName || r.Files[0].Infected || len(steps) != 3 {
		t.Fatalf("report %+v, steps %v", r, steps)
	}
	if _, err := VerifyReport(raw, c.h.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReport(raw, dev.ID()); !errors.Is(err, ErrSignature) {
		t.Fatalf("verified as another clone's: %v", err)
	}
	forged := bytes.Replace(raw, []byte(`"infected": true`), []byte(`"infected": false`), 1)
	if bytes.Equal(forged, raw) {
		t.Fatal("the test's forgery changed nothing")
	}
	if _, err := VerifyReport(forged, ""); !errors.Is(err, ErrSignature) {
		t.Fatalf("a changed report verified: %v", err)
	}
	stranger := newHost(t)
	connect(t, stranger, c.h)
	if _, _, err := RequestReport(ctx, stranger, c.h.ID(), func(int, int) {}); !errors.Is(err, ErrRefused) {
		t.Fatalf("a stranger got the report: %v", err)
	}
}

// Before the device's first Hello the mirror has no apps: no files, no panic.
func TestFilesListerBeforeHello(t *testing.T) {
	l := FilesLister(func(_ context.Context, f func(*replication.AppSet)) error { f(nil); return nil })
	if got, err := l(context.Background()); err != nil || len(got) != 0 {
		t.Fatalf("%v, %v", got, err)
	}
}
