// Package webtest drives the phone's web page (device/web) in headless
// Chromium for tests: find the browser or skip, start one per test, wait
// on page conditions, type, take screenshots. It is a test helper, not
// linked into the daemon.
package webtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds a Chromium or Chrome binary, or skips the test.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("C2C_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (install Debian's chromium, or set C2C_CHROMIUM): the browser tests need one")
	return ""
}

// ScreenshotDir is $C2C_SCREENSHOTS, or a temporary directory.
func ScreenshotDir(t testing.TB) string {
	if d := os.Getenv("C2C_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// Browser is one headless Chromium process with one tab.
type Browser struct {
	t    testing.TB
	Name string
	Ctx  context.Context
}

// NewBrowser starts a headless Chromium (bin) for the test, named name in
// its failures; it stops at cleanup or when ctx ends.
func NewBrowser(t testing.TB, ctx context.Context, bin, name string) *Browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.WindowSize(1000, 560),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s's Chromium: %v", name, err)
	}
	return &Browser{t: t, Name: name, Ctx: bctx}
}

// Run runs actions, failing the test on an error.
func (b *Browser) Run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v", b.Name, what, err)
	}
}

// Poll waits (up to 20 s) until the JS expression is true in the page.
func (b *Browser) Poll(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		b.t.Fatalf("%s: waiting for %s (%s): %v; text %q", b.Name, what, expr, err, b.Text())
	}
}

// Text is the editor's text.
func (b *Browser) Text() string {
	s, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.ID("text")))
	return s
}

// Eval evaluates a JS expression.
func (b *Browser) Eval(expr string) {
	b.t.Helper()
	b.Run("eval "+expr, chromedp.Evaluate[chromedp.Void](expr))
}

// TypeAt puts the caret at code point cp (-1: the end) and types s.
func (b *Browser) TypeAt(cp int, s string) {
	b.t.Helper()
	b.Eval(fmt.Sprintf(`(() => { const ta = document.getElementById("text"); ta.focus();
		const u = %d < 0 ? ta.value.length : OT.cpToU16(ta.value, %d); ta.setSelectionRange(u, u); })()`, cp, cp))
	b.TypeHere(s)
}

// TypeHere types s at the caret, a key event per character.
func (b *Browser) TypeHere(s string) {
	b.t.Helper()
	b.Run("type "+s, chromedp.KeyEvent(s))
}

// Shot writes a PNG screenshot of the viewport to dir/name.
func (b *Browser) Shot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", b.Name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
