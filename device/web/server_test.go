package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/gorilla/websocket"
)

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8480": true, "[::1]:0": true, "localhost:9000": true, "127.1.2.3:80": true,
		"0.0.0.0:8480": false, ":8480": false, "192.168.1.5:80": false, "example.com:80": false,
	} {
		err := CheckListen(addr, false)
		if (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
		if !ok && !errors.Is(err, ErrRemoteListen) && !strings.Contains(err.Error(), "listen address") {
			t.Errorf("%s: %v", addr, err)
		}
		if err := CheckListen(addr, true); err != nil && addr != ":8480" {
			t.Errorf("%s with allowRemote: %v", addr, err)
		}
	}
	if err := CheckListen("no-port", true); err == nil {
		t.Error("an address without a port was accepted")
	}
}

// A served page and WebSocket on a real device client (no document needed
// for the gatekeeping).
func testServer(t *testing.T, opts ...Option) (*Server, *httptest.Server) {
	n := netsim.NewLoopback(t)
	a := n.AddClone()
	_, c := devicetest.Attach(t, n, a, "phone")
	s, err := New(c, append([]Option{WithDocs(func() []docsync.DocID { return nil })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); hs.Close() })
	return s, hs
}

func TestTokenOriginAndHost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	s, hs := testServer(t)
	get := func(path string, hdr map[string]string) int {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/", nil); c != http.StatusForbidden {
		t.Errorf("page without token: %d", c)
	}
	if c := get("/?t=wrong", nil); c != http.StatusForbidden {
		t.Errorf("page with a wrong token: %d", c)
	}
	if c := get("/?t="+s.Token(), nil); c != http.StatusOK {
		t.Errorf("page with the token: %d", c)
	}
	if c := get("/?t="+s.Token(), map[string]string{"Host": "evil.example:80"}); c != http.StatusMisdirectedRequest {
		t.Errorf("page under a foreign Host (DNS rebinding): %d", c)
	}
	if c := get("/app.js", nil); c != http.StatusOK {
		t.Errorf("asset: %d", c)
	}
	ws := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?t="
	dial := func(tok, origin string) (*websocket.Conn, int) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(ws+tok, h)
		if err != nil {
			if resp == nil {
				t.Fatal(err)
			}
			return nil, resp.StatusCode
		}
		return c, http.StatusSwitchingProtocols
	}
	if _, c := dial("wrong", hs.URL); c != http.StatusForbidden {
		t.Errorf("websocket with a wrong token: %d", c)
	}
	if _, c := dial(s.Token(), "http://evil.example"); c != http.StatusForbidden {
		t.Errorf("websocket from another origin: %d", c)
	}
	if _, c := dial(s.Token(), ""); c != http.StatusForbidden {
		t.Errorf("websocket without an Origin: %d", c)
	}
	c, code := dial(s.Token(), hs.URL)
	if c == nil {
		t.Fatalf("websocket from the page's origin: %d", code)
	}
	defer c.Close()
	// The first message lists the documents.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m outMsg
	if err := c.ReadJSON(&m); err != nil || m.T != "docs" {
		t.Fatalf("first message %+v, %v", m, err)
	}
}

// A page message over the size bound, a malformed one, or a flood ends the
// session; the server goes on serving others.
func TestPageMessagesAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	p := DefaultParams()
	p.MaxMessage, p.MsgBurst, p.MsgRate, p.ByteBurst = 4096, 20, 1, 4096
	s, hs := testServer(t, WithParams(p))
	ws := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?t=" + s.Token()
	session := func(t *testing.T, send func(c *websocket.Conn)) error {
		c, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {hs.URL}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		send(c)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return err
			}
		}
	}
	for name, send := range map[string]func(c *websocket.Conn){
		"too large": func(c *websocket.Conn) { _ = c.WriteMessage(websocket.TextMessage, make([]byte, 5000)) },
		"malformed": func(c *websocket.Conn) {
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"t":"edit","c":1,"op":[1,"",-0]}`))
		},
		"binary": func(c *websocket.Conn) { _ = c.WriteMessage(websocket.BinaryMessage, []byte(`{}`)) },
		"no doc": func(c *websocket.Conn) { _ = c.WriteMessage(websocket.TextMessage, []byte(`{"t":"undo"}`)) },
		"flood": func(c *websocket.Conn) {
			for range 40 {
				_ = c.WriteMessage(websocket.TextMessage, []byte(`{"t":"open","doc":"`+strings.Repeat("ab", 32)+`"}`))
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := session(t, send)
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || (ce.Code != websocket.ClosePolicyViolation && ce.Code != websocket.CloseMessageTooBig) {
				t.Fatalf("session ended with %v, want a policy or size close", err)
			}
		})
	}
}
