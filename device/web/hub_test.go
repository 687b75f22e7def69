package web

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/gorilla/websocket"
)

// goPage speaks the page's protocol with the real Jupiter client in place
// of app.js: what the hub must get right whatever the page's language.
type goPage struct {
	t  *testing.T
	c  *websocket.Conn
	mu sync.Mutex
	jc *jupiter.Client
}

func dialPage(t *testing.T, hs *httptest.Server, s *Server, doc docsync.DocID) *goPage {
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws?t="+s.Token(), http.Header{"Origin": {hs.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &goPage{t: t, c: c}
	if err := c.WriteJSON(map[string]string{"t": "open", "doc": hex.EncodeToString(doc[:])}); err != nil {
		t.Fatal(err)
	}
	return p
}

// read applies the hub's messages until the connection ends.
func (p *goPage) read() {
	for {
		_, b, err := p.c.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			T    string          `json:"t"`
			Text *string         `json:"text"`
			V    uint64          `json:"v"`
			Op   json.RawMessage `json:"op"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			p.t.Errorf("page got %s: %v", b, err)
			return
		}
		p.mu.Lock()
		switch m.T {
		case "snapshot":
			p.jc = jupiter.NewClient()
			p.jc.Connect()
			if _, err := p.jc.Resume(jupiter.Bundle{To: m.V, Snapshot: m.Text}); err != nil {
				p.t.Errorf("snapshot: %v", err)
			}
		case "op":
			op, err := decodeOp(m.Op)
			if err == nil {
				_, err = p.jc.Remote(op)
			}
			if err != nil {
				p.t.Errorf("hub op: %v", err)
			}
		case "ack":
			next, err := p.jc.Ack(p.jc.Inflight().Counter)
			if err != nil {
				p.t.Errorf("ack: %v", err)
			}
			p.sendLocked(next)
		}
		p.mu.Unlock()
	}
}

func (p *goPage) sendLocked(e *jupiter.Edit) {
	if e == nil {
		return
	}
	_ = p.c.WriteJSON(map[string]any{"t": "edit", "c": e.Counter, "v": e.Base, "op": encodeOp(e.Op)})
}

// edit applies a random edit to the page's text (it has its snapshot).
func (p *goPage) edit(rng *rand.Rand) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops, err := netsim.RandomEdit(rng)(p.jc.Len())
	if err != nil {
		p.t.Fatal(err)
	}
	e, err := p.jc.Local(ops[0])
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendLocked(e)
}

// state is the page's text and whether it is idle (false before the
// snapshot).
func (p *goPage) state() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jc == nil {
		return "", false
	}
	return p.jc.Text(), p.jc.Inflight() == nil && !p.jc.Buffered()
}

// Two pages on one device and another member's clone edit one document at
// once; the hub transforms each page's edits past what it had not seen,
// and every page, both devices' texts and the clones converge.
func TestHubPagesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback network")
	}
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, b)
	_, c := devicetest.Attach(t, n, a, "phone")
	s, err := New(c, WithDocs(func() []docsync.DocID { return []docsync.DocID{d.ID} }), WithLogger(n.Log))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); hs.Close() })
	pages := []*goPage{dialPage(t, hs, s, d.ID), dialPage(t, hs, s, d.ID)}
	for _, p := range pages {
		go p.read()
	}
	netsim.WaitUntil(t, time.Minute, "both pages' snapshots", func() bool {
		_, ok0 := pages[0].state()
		_, ok1 := pages[1].state()
		return ok0 && ok1
	})
	rng := rand.New(rand.NewPCG(18, 1))
	ctx := context.Background()
	for range 300 {
		switch k := rng.IntN(10); {
		case k < 4:
			pages[0].edit(rng)
		case k < 8:
			pages[1].edit(rng)
		default:
			if err := b.Svc.EditFunc(ctx, d.ID, netsim.RandomEdit(rng)); err != nil {
				t.Fatal(err)
			}
		}
	}
	doc, err := c.Load(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	netsim.WaitUntil(t, time.Minute, "pages, device and clones converged", func() bool {
		want, _ := b.Svc.Text(d.ID)
		for _, p := range pages {
			if got, idle := p.state(); !idle || got != want {
				return false
			}
		}
		at, _ := a.Svc.Text(d.ID)
		return doc.Text() == want && at == want && !doc.Pending()
	})
	text, _ := b.Svc.Text(d.ID)
	t.Logf("converged on %d code points", len([]rune(text)))
}

// A page edit that does not fit the text it names is refused with a
// message, and the page starts again from a snapshot: the device's text
// does not change.
func TestHubRefusesAnEditThatDoesNotFit(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback network")
	}
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a := n.AddClone()
	d := n.NewDoc(seq, a)
	_, c := devicetest.Attach(t, n, a, "phone")
	s, err := New(c, WithDocs(func() []docsync.DocID { return []docsync.DocID{d.ID} }), WithLogger(n.Log))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); hs.Close() })
	p := dialPage(t, hs, s, d.ID)
	next := func(want string) map[string]any {
		t.Helper()
		_ = p.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			var m map[string]any
			if err := p.c.ReadJSON(&m); err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			if m["t"] == want {
				return m
			}
		}
	}
	next("snapshot")
	for _, bad := range []string{`[999]`, `[1,"x"]`, `[-1]`} {
		if err := p.c.WriteMessage(websocket.TextMessage, []byte(`{"t":"edit","c":1,"v":0,"op":`+bad+`}`)); err != nil {
			t.Fatal(err)
		}
		if e := next("error"); !strings.Contains(e["error"].(string), "edit refused") {
			t.Fatalf("%s: %v", bad, e)
		}
		next("snapshot")
	}
	doc, err := c.Load(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Text() != "" {
		t.Fatalf("the device's text changed to %q", doc.Text())
	}
	// The page goes on: a good edit on the new snapshot lands.
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(`{"t":"edit","c":1,"v":0,"op":["ok"]}`)); err != nil {
		t.Fatal(err)
	}
	next("ack")
	if doc.Text() != "ok" {
		t.Fatalf("after a good edit: %q", doc.Text())
	}
}
