package downloads_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloads"
)

func user(t *testing.T, a *downloads.App, seq uint64, p []byte) ([]replication.Output, error) {
	t.Helper()
	return a.Apply(&replication.Event{Source: replication.User, Epoch: 1, Seq: seq, Time: replication.Time(seq), Payload: p})
}

func network(t *testing.T, a *downloads.App, seq uint64, c *downloads.Cached) ([]replication.Output, error) {
	t.Helper()
	return a.Apply(&replication.Event{Source: replication.Network, Epoch: 1, Seq: seq, NetSeq: seq, Time: replication.Time(seq), Payload: c.Marshal()})
}

// TestLifecycle: requested, cached, pulled, on a "mirror" that holds the
// file and a "device" that gets it only when it pulls; the two states
// hash the same at every step, and Pulled is refused while the device's
// store lacks the file.
func TestLifecycle(t *testing.T) {
	mirrorStore, devStore := boxostore.NewMem(), boxostore.NewMem()
	mirror, dev := downloads.New(mirrorStore), downloads.New(devStore)
	both := func(f func(a *downloads.App) ([]replication.Output, error)) []replication.Output {
		t.Helper()
		mo, err := f(mirror)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f(dev); err != nil {
			t.Fatal(err)
		}
		if mirror.Root() != dev.Root() {
			t.Fatal("the mirror and the device differ")
		}
		return mo
	}
	outs := both(func(a *downloads.App) ([]replication.Output, error) {
		return user(t, a, 1, downloads.Request("https://example.com/big.iso", downloads.WiFi))
	})
	id := downloads.ID(replication.DeviceID{}, 1, 1)
	if len(outs) != 1 || outs[0].Kind != downloads.OutputFetch || !bytes.Equal(outs[0].Data, id[:]) {
		t.Fatalf("outputs %+v", outs)
	}
	data := bytes.Repeat([]byte("payload!"), 100000)
	ref, err := mirrorStore.Add(data)
	if err != nil {
		t.Fatal(err)
	}
	c := &downloads.Cached{ID: id, Try: 1, Ref: ref, Verdict: downloads.Verdict{DBVersion: 7}}
	outs = both(func(a *downloads.App) ([]replication.Output, error) { return network(t, a, 2, c) })
	if len(outs) != 1 || outs[0].Kind != downloads.OutputCached {
		t.Fatalf("outputs %+v", outs)
	}
	root := dev.Root()
	if _, err := user(t, dev, 3, downloads.Pulled(id)); !errors.Is(err, downloads.ErrBadOp) || dev.Root() != root {
		t.Fatalf("pulled without the file: %v", err)
	}
	if err := devStore.Import(ref.CID, mirrorStore); err != nil {
		t.Fatal(err)
	}
	both(func(a *downloads.App) ([]replication.Output, error) { return user(t, a, 3, downloads.Pulled(id)) })
	it, ok := dev.Get(id)
	if !ok || it.Status != downloads.StatusPulled || it.Ref != ref || it.Verdict.DBVersion != 7 || it.When != downloads.WiFi {
		t.Fatalf("item %+v", it)
	}
	if got, err := dev.ReadFile(it); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	// A pulled file is part of the state: it exports and imports.
	exp := replication.NewMemStore()
	man, err := dev.Export(exp)
	if err != nil {
		t.Fatal(err)
	}
	fresh := downloads.New(boxostore.NewMem())
	if err := fresh.Import(man, exp); err != nil || fresh.Root() != dev.Root() {
		t.Fatalf("import: %v", err)
	}
	if got, err := fresh.ReadFile(fresh.List()[0]); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("imported file: %v", err)
	}
	// Pulled twice, cached again: refused, and a no-op.
	if _, err := user(t, dev, 4, downloads.Pulled(id)); !errors.Is(err, downloads.ErrBadOp) {
		t.Fatalf("pulled twice: %v", err)
	}
	root = dev.Root()
	if outs, err := network(t, dev, 5, c); err != nil || len(outs) != 0 || dev.Root() != root {
		t.Fatalf("cached twice: %v %v", outs, err)
	}
}

// TestFailRetry: a failed download is retried as a new try; a late copy
// of the first try's answer is ignored.
func TestFailRetry(t *testing.T) {
	a := downloads.New(boxostore.NewMem())
	if _, err := user(t, a, 1, downloads.Request("http://example.com/x", downloads.Now)); err != nil {
		t.Fatal(err)
	}
	id := downloads.ID(replication.DeviceID{}, 1, 1)
	fail := &downloads.Cached{ID: id, Try: 1, Reason: "HTTP 404"}
	if _, err := user(t, a, 2, downloads.Retry(id)); !errors.Is(err, downloads.ErrBadOp) {
		t.Fatalf("retry of a download in flight: %v", err)
	}
	if _, err := network(t, a, 2, fail); err != nil {
		t.Fatal(err)
	}
	if it, _ := a.Get(id); it.Status != downloads.StatusFailed || it.Reason != "HTTP 404" {
		t.Fatalf("item %+v", it)
	}
	outs, err := user(t, a, 3, downloads.Retry(id))
	if err != nil || len(outs) != 1 || outs[0].Kind != downloads.OutputFetch {
		t.Fatalf("retry: %v %v", outs, err)
	}
	if _, err := network(t, a, 4, fail); err != nil {
		t.Fatal(err)
	}
	if it, _ := a.Get(id); it.Status != downloads.StatusRequested || it.Tries != 2 {
		t.Fatalf("a late answer to try 1 changed try 2: %+v", it)
	}
	if _, err := user(t, a, 5, downloads.Forget(id)); err != nil || len(a.List()) != 0 {
		t.Fatalf("forget: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	for name, p := range map[string][]byte{
		"ftp":       downloads.Request("ftp://example.com/x", downloads.Now),
		"file":      downloads.Request("file:///etc/passwd", downloads.Now),
		"no host":   downloads.Request("http:///x", downloads.Now),
		"relative":  downloads.Request("/x", downloads.Now),
		"policy 0":  downloads.Request("http://example.com/x", 0),
		"policy 9":  downloads.Request("http://example.com/x", 9),
		"long url":  downloads.Request("http://example.com/"+string(bytes.Repeat([]byte("a"), downloads.MaxURLBytes)), downloads.Now),
		"empty":     {},
		"short id":  downloads.Pulled([32]byte{1})[:20],
		"no such":   downloads.Pulled([32]byte{1}),
		"bad kind":  {'?'},
		"trailing":  append(downloads.Request("http://example.com/x", downloads.Now), 0),
		"truncated": downloads.Request("http://example.com/x", downloads.Now)[:5],
	} {
		a := downloads.New(boxostore.NewMem())
		if _, err := user(t, a, 1, p); !errors.Is(err, downloads.ErrBadOp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, c := range map[string][]byte{
		"empty":     {},
		"kind":      {'z'},
		"no reason": append((&downloads.Cached{Reason: "x"}).Marshal()[:35], 0),
		"bad ref":   {'c', 32, 31: 0},
	} {
		if _, err := downloads.UnmarshalCached(c); !errors.Is(err, downloads.ErrBadOp) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCachedRoundTrip(t *testing.T) {
	ref, _ := boxostore.NewMem().Add([]byte("hello"))
	for _, c := range []*downloads.Cached{
		{ID: [32]byte{1}, Try: 3, Ref: ref, Verdict: downloads.Verdict{Infected: true, Name: "Eicar-Test-Signature", By: "body", DBVersion: 2}},
		{ID: [32]byte{2}, Try: 1, Reason: "too large"},
	} {
		back, err := downloads.UnmarshalCached(c.Marshal())
		if err != nil || *back != *c {
			t.Fatalf("round trip %+v: %+v %v", c, back, err)
		}
	}
}

func TestWhen(t *testing.T) {
	for _, w := range []downloads.When{downloads.Now, downloads.WiFi, downloads.Charge, downloads.Manual} {
		if back, err := downloads.ParseWhen(w.String()); err != nil || back != w {
			t.Fatalf("%v: %v %v", w, back, err)
		}
	}
	if _, err := downloads.ParseWhen("later"); err == nil {
		t.Fatal("later parsed")
	}
}

func TestPolicy(t *testing.T) {
	none, wifi, charging := downloads.Conditions{}, downloads.Conditions{WiFi: true}, downloads.Conditions{Charging: true}
	for _, c := range []struct {
		w    downloads.When
		c    downloads.Conditions
		want bool
	}{
		{downloads.Now, none, true}, {downloads.WiFi, none, false}, {downloads.WiFi, wifi, true}, {downloads.WiFi, charging, false},
		{downloads.Charge, charging, true}, {downloads.Charge, wifi, false}, {downloads.Manual, downloads.Conditions{WiFi: true, Charging: true}, false},
	} {
		if got := c.w.Allows(c.c); got != c.want {
			t.Errorf("%v under %+v: %v", c.w, c.c, got)
		}
	}
}
