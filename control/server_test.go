package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/netsim"
)

// shortDir returns a private (0700) directory with a path short enough
// for a unix socket.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "c2cctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serve starts a control server for clone c and returns a client of it.
func serve(t *testing.T, c *netsim.Clone) (*Server, *Client) {
	t.Helper()
	srv := NewServer(c.Svc, c.H.ID(), WithLogger(slog.New(slog.DiscardHandler)))
	if err := srv.Listen(filepath.Join(shortDir(t), SocketFile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cl := NewClient(srv.Path())
	t.Cleanup(cl.Close)
	return srv, cl
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after 30 s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronization
	}
}

// The whole API through the socket: two clones on real loopback hosts
// create, share, edit, watch and remove.
func TestControlAPI(t *testing.T) {
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	srvA, ca := serve(t, a)
	_, cb := serve(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	st, err := os.Stat(srvA.Path())
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %s: %v mode %v, want a 0600 socket", srvA.Path(), err, st.Mode())
	}

	seqAddr := seq.H.Addrs()[0].String() + "/p2p/" + seq.H.ID().String()
	doc, err := ca.Create(ctx, seqAddr)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) != 64 {
		t.Fatalf("doc ID %q, want 64 hex digits", doc)
	}
	inv, err := ca.Invite(ctx, doc[:10], b.User.String(), b.Device, "writer")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Peer != b.H.ID().String() {
		t.Fatalf("invited peer %s, want %s", inv.Peer, b.H.ID())
	}
	waitFor(t, "b joined and holds the key", func() bool {
		in, err := cb.Show(ctx, doc)
		return err == nil && in.Role == "writer" && in.Applied == in.Seq
	})

	// b watches; a edits. Edits can be batched (composed) into one entry,
	// so the watcher is first known to be subscribed by seeing any of a
	// stream of single-dot appends.
	events := make(chan Event, 1000)
	wctx, wcancel := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- cb.Watch(wctx, doc, func(ev Event) bool { events <- ev; return true })
	}()
	waitFor(t, "b's watcher sees a's edits", func() bool {
		if _, err := ca.Edit(ctx, doc, EditRequest{Kind: EditAppend, Text: "."}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev := <-events:
				if ev.Kind == "update" && strings.Contains(ev.Inserted, ".") {
					return true
				}
			default:
				return false
			}
		}
	})
	for _, req := range []EditRequest{
		{Kind: EditSet, Text: "hello world"},
		{Kind: EditInsert, Text: "big ", At: 6},
		{Kind: EditDelete, At: 0, Count: 6},
		{Kind: EditAppend, Text: "!"},
	} {
		if _, err := ca.Edit(ctx, doc, req); err != nil {
			t.Fatalf("edit %+v: %v", req, err)
		}
	}
	const want = "big world!"
	waitFor(t, "b converged", func() bool {
		ia, _ := ca.Show(ctx, doc)
		ib, _ := cb.Show(ctx, doc)
		return ia.Text == want && ib.Text == want && !ia.Pending && ia.Seq == ib.Seq && ia.Head == ib.Head
	})
	var inserted strings.Builder
	waitFor(t, "b's watcher saw the final append", func() bool {
		for {
			select {
			case ev := <-events:
				if ev.Kind == "update" {
					inserted.WriteString(ev.Inserted)
				}
			default:
				return strings.Contains(inserted.String(), "!")
			}
		}
	})
	wcancel()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("watch: %v", err)
	}

	res, err := ca.Edit(ctx, doc, EditRequest{Kind: EditSet, Text: "replaced"})
	if err != nil || res.Length != len("replaced") {
		t.Fatalf("set: %+v %v", res, err)
	}
	members, err := ca.Members(ctx, doc)
	if err != nil || len(members) != 2 {
		t.Fatalf("members: %v %v", members, err)
	}
	log, err := ca.Log(ctx, doc, 0, 0)
	if err != nil || len(log) < 4 || log[0].Seq != 1 || log[0].Kind != "member" || log[2].Kind != "edit" {
		t.Fatalf("log: %+v %v", log, err)
	}
	if err := ca.Remove(ctx, doc, b.H.ID().String()); err != nil {
		t.Fatal(err)
	}
	if members, _ := ca.Members(ctx, doc); len(members) != 1 {
		t.Fatalf("after remove: %d members", len(members))
	}
	docs, err := ca.Docs(ctx)
	if err != nil || len(docs) != 1 || docs[0] != doc {
		t.Fatalf("docs: %v %v", docs, err)
	}
	if s, err := ca.Status(ctx); err != nil || s.Peer != a.H.ID().String() || s.Docs != 1 {
		t.Fatalf("status: %+v %v", s, err)
	}
}

// Errors come back as the documented sentinels.
func TestControlErrors(t *testing.T) {
	n := netsim.NewLoopback(t)
	a := n.AddClone()
	srv, c := serve(t, a)
	ctx := context.Background()
	unknown := strings.Repeat("ab", 32)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unknown doc", func() error { _, err := c.Show(ctx, unknown); return err }(), ErrUnknownDoc},
		{"short prefix", func() error { _, err := c.Show(ctx, "abc"); return err }(), ErrBadRequest},
		{"bad sequencer", func() error { _, err := c.Create(ctx, "nonsense"); return err }(), ErrBadRequest},
		{"bare peer ID without resolver", func() error { _, err := c.Create(ctx, a.H.ID().String()); return err }(), ErrBadRequest},
		{"bad edit kind", func() error { _, err := c.Edit(ctx, unknown, EditRequest{Kind: "frobnicate"}); return err }(), ErrUnknownDoc},
		{"bad role", func() error { _, err := c.Invite(ctx, unknown, a.User.String(), "phone", "boss"); return err }(), ErrBadRequest},
		{"bad member", func() error { return c.Remove(ctx, unknown, "nobody") }(), ErrBadRequest},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Docs(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after close: %v, want ErrNotRunning", err)
	}
	if _, err := os.Stat(srv.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket not removed on close: %v", err)
	}
}

// A socket directory others can enter is refused; a stale socket is replaced.
func TestControlSocketFile(t *testing.T) {
	n := netsim.NewLoopback(t)
	a := n.AddClone()
	open := shortDir(t)
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := NewServer(a.Svc, a.H.ID()).Listen(filepath.Join(open, SocketFile)); !errors.Is(err, ErrInsecureSocket) {
		t.Fatalf("0755 dir: %v, want ErrInsecureSocket", err)
	}
	dir := shortDir(t)
	path := filepath.Join(dir, SocketFile)
	first := NewServer(a.Svc, a.H.ID())
	if err := first.Listen(path); err != nil {
		t.Fatal(err)
	}
	// Simulate a killed clone: the socket file stays behind.
	first.ln.(*ownerListener).Listener.(*net.UnixListener).SetUnlinkOnClose(false)
	first.http.Close()
	<-first.done
	second := NewServer(a.Svc, a.H.ID())
	if err := second.Listen(path); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer second.Close()
	if _, err := NewClient(path).Docs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := NewServer(a.Svc, a.H.ID()).Listen(filepath.Join(dir, "x")); err == nil {
		t.Fatal("listening over a regular file succeeded")
	}
}

// Forget through the socket: the document leaves the list, and a second
// forget is an unknown document.
func TestControlForget(t *testing.T) {
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a := n.AddClone()
	_, ca := serve(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	doc, err := ca.Create(ctx, seq.H.Addrs()[0].String()+"/p2p/"+seq.H.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Forget(ctx, doc[:10]); err != nil {
		t.Fatal(err)
	}
	l, err := ca.DocList(ctx)
	if err != nil || len(l.Docs) != 0 || len(l.Unopened) != 0 {
		t.Fatalf("after forget: %+v %v", l, err)
	}
	if err := ca.Forget(ctx, doc); !errors.Is(err, ErrUnknownDoc) {
		t.Fatalf("second forget: %v, want ErrUnknownDoc", err)
	}
}
