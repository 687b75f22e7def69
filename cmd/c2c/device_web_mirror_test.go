package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/clone2clone/c2c/device/web/webtest"
	"github.com/gorilla/websocket"
)

// webURL waits for the page URL c2c device web prints in p's output.
func webURL(t *testing.T, p *proc) string {
	t.Helper()
	re := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/\?t=[0-9a-f]{32})`)
	var url string
	waitCond(t, 60*time.Second, "c2c device web's URL", func() bool {
		b, _ := os.ReadFile(p.out.Name())
		if m := re.FindSubmatch(b); m != nil {
			url = string(m[1])
		}
		return url != ""
	})
	return url
}

// pageView is a mirror or scan answer as the page gets it.
type pageView struct {
	T     string `json:"t"`
	Error string `json:"error"`
	Views []struct {
		Name string     `json:"name"`
		Rows [][]string `json:"rows"`
		Note string     `json:"note"`
	} `json:"views"`
}

// askPage sends the page's request t over the WebSocket and returns the
// answer of the same type.
func askPage(t *testing.T, url, req string) pageView {
	t.Helper()
	base, query, _ := strings.Cut(url, "/?")
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws?"+query, http.Header{"Origin": {base}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteJSON(map[string]string{"t": req}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the %s answer: %v", req, err)
		}
		var v pageView
		if json.Unmarshal(b, &v) == nil && v.T == req {
			if v.Error != "" {
				t.Fatalf("%s: %s", req, v.Error)
			}
			return v
		}
	}
}

// rowsOf joins a view's rows into lines.
func rowsOf(v pageView, name string) string {
	var out []string
	for _, view := range v.Views {
		if view.Name == name {
			for _, r := range view.Rows {
				out = append(out, strings.Join(r, " | "))
			}
			out = append(out, view.Note)
		}
	}
	return strings.Join(out, "\n")
}

// checkWebMirror runs c2c device web on the phone of a scan test: the
// page lists the mirrored files and the clone's signed verdicts, and
// (when Chromium is here) shows them.
func checkWebMirror(t *testing.T, bin, phone string, wantFiles, wantVerdicts []string) {
	p := startProc(t, bin, "device-web", nil, "device", "web", "--data", phone, "--listen", "127.0.0.1:0")
	url := webURL(t, p)
	files := rowsOf(askPage(t, url, "mirror"), "files")
	for _, w := range wantFiles {
		if !strings.Contains(files, w) {
			t.Fatalf("the page's files lack %q:\n%s", w, files)
		}
	}
	verdicts := rowsOf(askPage(t, url, "scan"), "scan")
	for _, w := range wantVerdicts {
		if !strings.Contains(verdicts, w) {
			t.Fatalf("the page's scan results lack %q:\n%s", w, verdicts)
		}
	}
	if _, err := exec.LookPath("chromium"); err == nil || os.Getenv("C2C_CHROMIUM") != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b := webtest.NewBrowser(t, ctx, webtest.Chromium(t), "phone")
		b.Run("open the page", chromedp.Navigate(url))
		b.Run("scan results", chromedp.Click(chromedp.CSS(`#apps li[data-app="scan"]`)))
		b.Poll("the scan table", `document.querySelectorAll("#appbody td.bad").length >= 1`)
		b.Shot(webtest.ScreenshotDir(t), "scan.png")
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("c2c device web exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("c2c device web did not stop on SIGINT")
	}
}
