package web_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/device/web"
	"github.com/clone2clone/c2c/device/web/webtest"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

type member struct {
	dev    *devicetest.Device
	c      *client.Client
	srv    *web.Server
	url    string
	b      *webtest.Browser
	online string // JS: the page shows the device online
}

// startMember runs a device of clone on n, its web server and a browser.
func startMember(t *testing.T, ctx context.Context, n *netsim.Net, clone *netsim.Clone, bin, name string, docs ...docsync.DocID) *member {
	dev, c := devicetest.Attach(t, n, clone, name, client.WithUndo(0), client.WithStateDir(t.TempDir()))
	opts := []web.Option{web.WithName(name), web.WithDocs(func() []docsync.DocID { return docs }), web.WithLogger(n.Log)}
	if os.Getenv("C2C_WEB_DEBUG") != "" {
		opts = append(opts, web.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("dev", name)))
	}
	srv, err := web.New(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return &member{dev: dev, c: c, srv: srv, url: hs.URL + "/?t=" + srv.Token(), b: webtest.NewBrowser(t, ctx, bin, name)}
}

func (m *member) open(doc docsync.DocID) {
	m.b.Run("open the page", chromedp.Navigate(m.url+"#doc="+hex.EncodeToString(doc[:])))
	m.waitOpen(doc)
}

func (m *member) waitOpen(doc docsync.DocID) {
	m.b.Poll("the document open and online", fmt.Sprintf(`document.body.dataset.doc === %q && document.body.dataset.online === "true" && !document.getElementById("text").disabled && c2c.synced()`, hex.EncodeToString(doc[:])))
}

// converged waits until every page, synced, and every device show the
// same text, which holds every part of want and no part of not.
func converged(t *testing.T, doc docsync.DocID, ms []*member, want []string, not ...string) string {
	t.Helper()
	fits := func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		for _, w := range not {
			if strings.Contains(s, w) {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		var texts []string
		same := true
		for _, m := range ms {
			page, _ := chromedp.Run(m.b.Ctx, chromedp.Evaluate[string](`c2c.synced() ? document.getElementById("text").value : "\x00 not synced"`))
			d, err := m.c.Load(doc)
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, page, d.Text())
		}
		for _, s := range texts {
			same = same && s == texts[0] && fits(s)
		}
		if same {
			return texts[0]
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no convergence on %q without %q: pages and devices have %q", want, not, texts)
		}
	}
}

// Two users' devices, each with the page open in its own headless
// Chromium: concurrent typing converges, a reload loses nothing, an
// offline device shows the indicator and then the merged text, undo takes
// back only the user's own text, and a forking sequencer's alarm shows as
// the banner.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two Chromium processes")
	}
	bin := webtest.Chromium(t)
	shots := webtest.ScreenshotDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	var victims sync.Map
	byz := n.AddSequencer(seqservice.WithSequencer(func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Orderer {
		s := sequencer.NewByzantine(doc, key, sequencer.Equivocate, 4)
		s.Victims = func(m docsync.MemberID) bool { _, ok := victims.Load(m); return ok }
		return seqtest.Observe(s)
	}))
	// A short stall alarm, so the test of its banner does not wait 30 s.
	params := cloneservice.DefaultParams()
	params.StallAfter = 3 * time.Second
	a, b := n.AddClone(cloneservice.WithParams(params)), n.AddClone(cloneservice.WithParams(params))
	victims.Store(b.Svc.ID(), true)
	d := n.NewDoc(seq, a, b)
	forked := n.NewDoc(byz, a, b)

	alice := startMember(t, ctx, n, a, bin, "alice-phone", d.ID, forked.ID)
	bob := startMember(t, ctx, n, b, bin, "bob-phone", d.ID, forked.ID)
	both := []*member{alice, bob}
	for _, m := range both {
		m.open(d.ID)
		m.b.Poll("the member list", `document.querySelectorAll("#members li[data-member]").length === 2 && document.querySelector("#members li[data-self] .role").textContent !== ""`)
	}
	var roles string
	alice.b.Run("roles", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var err error
		roles, err = chromedp.Evaluate[string](`[...document.querySelectorAll("#members li")].map(li => li.querySelector(".name").textContent + ":" + li.querySelector(".role").textContent).join(", ")`)(ctx, t)
		return err
	}))
	if !strings.Contains(roles, "alice-phone (you):admin") || !strings.Contains(roles, ":writer") {
		t.Fatalf("alice's member list: %s", roles)
	}

	// A first line from Alice, then both type at once: Alice at the end of
	// her line, Bob on a line of his own, with characters beyond the BMP
	// (two UTF-16 units, one code point).
	alice.b.TypeAt(0, "Shopping list\n")
	converged(t, d.ID, both, []string{"Shopping list\n"})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); alice.b.TypeAt(len("Shopping list"), " for the weekend (𝟐 days)") }()
	go func() { defer wg.Done(); bob.b.TypeAt(-1, "- crème fraîche ×𝟐\n- bread\n") }()
	wg.Wait()
	text := converged(t, d.ID, both, []string{"Shopping list for the weekend (𝟐 days)\n", "- crème fraîche ×𝟐\n- bread\n"})
	t.Logf("converged: %q", text)

	// Carets: Alice's lands on Bob's page and moves there; Bob selects a
	// word and Alice sees it, in his colour, with his name.
	aid, bid := a.Svc.ID(), b.Svc.ID()
	aliceID, bobID := hex.EncodeToString(aid[:]), hex.EncodeToString(bid[:])
	caretAt := func(member string, pos int) string {
		return fmt.Sprintf(`(() => { const c = document.querySelector('#backdrop .caret[data-member=%q]'); return c !== null && c.dataset.pos === "%d"; })()`, member, pos)
	}
	alice.b.TypeAt(len("Shopping"), "")
	bob.b.Poll("Alice's caret after “Shopping”", caretAt(aliceID, len("Shopping")))
	alice.b.TypeAt(len([]rune("Shopping list for the weekend (𝟐 days)\n- crème")), "")
	bob.b.Poll("Alice's caret moved into line 2", caretAt(aliceID, len([]rune("Shopping list for the weekend (𝟐 days)\n- crème"))))
	from := len([]rune("Shopping list for the weekend (𝟐 days)\n- crème fraîche ×𝟐\n- "))
	bob.b.Eval(fmt.Sprintf(`(() => { const ta = document.getElementById("text"); ta.focus();
		ta.setSelectionRange(OT.cpToU16(ta.value, %d), OT.cpToU16(ta.value, %d)); })()`, from, from+len("bread")))
	alice.b.Poll("Bob's selection of “bread”", caretAt(bobID, from+len("bread"))+` && document.querySelector("#backdrop .sel") !== null`)
	alice.b.Shot(shots, "editor.png")
	bob.b.Poll("Alice in Bob's member list, in her colour", fmt.Sprintf(`document.querySelector('#members li[data-member=%q] .dot').style.background !== ""`, aliceID))
	bob.b.Shot(shots, "members.png")

	// A reload loses nothing.
	alice.b.Run("reload", chromedp.Reload())
	alice.waitOpen(d.ID)
	if got := alice.b.Text(); got != text {
		t.Fatalf("after a reload: %q, before %q", got, text)
	}

	// Alice goes offline; both edit; she comes back to the merged text.
	alice.b.Run("go offline", chromedp.Click(chromedp.ID("toggle")))
	alice.b.Poll("the offline indicator", `document.body.dataset.online === "false" && document.getElementById("link").textContent === "offline"`)
	alice.b.TypeAt(-1, "- eggs (added offline)\n")
	bob.b.TypeAt(0, "TODO: ")
	converged(t, d.ID, []*member{bob}, []string{"TODO: Shopping"})
	alice.b.Poll("her offline edit, without Bob's", `document.getElementById("text").value.includes("eggs") && !document.getElementById("text").value.includes("TODO")`)
	alice.b.Shot(shots, "offline.png")
	alice.b.Run("go online", chromedp.Click(chromedp.ID("toggle")))
	alice.b.Poll("online again", `document.body.dataset.online === "true"`)
	converged(t, d.ID, both, []string{"TODO: Shopping list for the weekend (𝟐 days)\n", "- eggs (added offline)\n", "- bread\n"})

	// Undo (Ctrl+Z) takes back Alice's last edit only; redo puts it back.
	bob.b.TypeAt(-1, "- milk\n")
	converged(t, d.ID, both, []string{"- eggs (added offline)\n- milk\n"})
	alice.b.Eval(`document.getElementById("text").focus()`)
	alice.b.Run("Ctrl+Z", chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	converged(t, d.ID, both, []string{"TODO: Shopping list for the weekend (𝟐 days)\n- crème fraîche ×𝟐\n- bread\n- milk\n"}, "eggs")
	alice.b.Run("Ctrl+Shift+Z", chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl, chromedp.ModifierShift)))
	converged(t, d.ID, both, []string{"- bread\n- eggs (added offline)\n- milk\n"})

	// The forking sequencer: Bob's clone gets the other branch; the first
	// device whose clone holds the proof shows the banner.
	for _, m := range both {
		m.b.Run("open the forked document", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#docs li[data-id=%q]`, hex.EncodeToString(forked.ID[:])))))
		m.waitOpen(forked.ID)
	}
	banner := `document.getElementById("banner").dataset.kind === "fork"`
	for i := 0; ; i++ {
		if i == 40 {
			t.Fatal("no fork banner after 40 rounds of edits")
		}
		for _, m := range both {
			m.b.TypeAt(-1, string(rune('a'+i%26)))
		}
		if bannerShown(alice, banner) && bannerShown(bob, banner) {
			break
		}
		for _, m := range both {
			m.b.Poll("the edit acknowledged or the banner", "c2c.synced() && document.body.dataset.online === 'true' || "+banner)
		}
	}
	alice.b.Shot(shots, "fork-banner.png")
	shown, err := chromedp.Run(alice.b.Ctx, chromedp.Text(chromedp.ID("banner")))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("banner: %s", shown)
	if !strings.Contains(shown, "Fork detected") {
		t.Errorf("the banner does not say fork: %q", shown)
	}

	// The honest sequencer stops: after StallAfter the clone's alarm shows
	// as the stall banner while the session goes on; when it is back the
	// banner goes and the edit made meanwhile reaches Bob.
	alice.b.Run("back to the shared document", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#docs li[data-id=%q]`, hex.EncodeToString(d.ID[:])))))
	alice.waitOpen(d.ID)
	seq.StopService()
	alice.b.TypeAt(0, "URGENT ")
	alice.b.Poll("the stall banner", `document.getElementById("banner").dataset.kind === "stall" && document.body.dataset.online === "true"`)
	alice.b.Shot(shots, "stall-banner.png")
	n.StartSequencer(seq.Peer)
	alice.b.Poll("the stall banner gone", `document.getElementById("banner").hidden`)
	bob.b.Run("back to the shared document", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#docs li[data-id=%q]`, hex.EncodeToString(d.ID[:])))))
	bob.waitOpen(d.ID)
	converged(t, d.ID, both, []string{"URGENT TODO: Shopping list"})
}

func bannerShown(m *member, expr string) bool {
	ok, _ := chromedp.Run(m.b.Ctx, chromedp.Evaluate[bool](expr))
	return ok
}
