package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// c2c device web refuses a listen beyond loopback without --allow-remote,
// prints the page's URL with its token, serves the page only with it,
// lists the device's documents and stops on its context.
func TestDeviceWebCLI(t *testing.T) {
	if code, _, errOut := c2c(t, "device", "web", "--data", t.TempDir(), "--listen", "0.0.0.0:0"); code == 0 || !strings.Contains(errOut, "allow") {
		t.Fatalf("a remote listen: exit %d: %s", code, errOut)
	}
	if testing.Short() {
		t.Skip("loopback network")
	}
	w := newDeviceWorld(t)
	doc := hex.EncodeToString(w.doc.ID[:])
	w.c2c(t, append([]string{"device", "connect"}, w.args...)...)
	w.c2c(t, "device", "type", doc, "hello")

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--data", w.dataDir, "--log-level", "warn", "device", "web", "--listen", "127.0.0.1:0"}, &out, &errb)
	}()
	re := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/\?t=[0-9a-f]{32})`)
	var url string
	waitCond(t, 30*time.Second, "the printed URL", func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(url); code != http.StatusOK || !strings.Contains(body, `<textarea id="text"`) {
		t.Fatalf("the page: %d %q", code, body)
	}
	if code, _ := get(strings.Split(url, "?")[0] + "?t=0000"); code != http.StatusForbidden {
		t.Fatalf("a wrong token: %d", code)
	}
	// The WebSocket, from the page's origin, lists the document.
	base := strings.Split(url, "/?")[0]
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws?"+strings.Split(url, "?")[1],
		http.Header{"Origin": {base}})
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first struct {
		T    string `json:"t"`
		Docs []struct {
			ID string `json:"id"`
		} `json:"docs"`
	}
	if err := ws.ReadJSON(&first); err != nil || first.T != "docs" || len(first.Docs) != 1 || first.Docs[0].ID != doc {
		t.Fatalf("first message %+v, %v", first, err)
	}
	ws.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("c2c device web did not stop")
	}
}
