package web

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/gorilla/websocket"
)

// session is one page's WebSocket.
type session struct {
	s    *Server
	conn *websocket.Conn
	out  chan outMsg
	done chan struct{}
	once sync.Once
	hub  *hub // the document shown (reader goroutine only)
	// mirrorBusy: a mirror or scan request is being answered.
	mirrorBusy atomic.Bool
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: s.checkOrigin, ReadBufferSize: 4096, WriteBufferSize: 4096}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Info("web: websocket refused", "origin", r.Header.Get("Origin"), "err", err)
		return // Upgrade answered with the error
	}
	conn.SetReadLimit(s.params.MaxMessage)
	se := &session{s: s, conn: conn, out: make(chan outMsg, s.params.OutBuffer), done: make(chan struct{})}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		se.writeLoop()
	}()
	go func() {
		defer s.wg.Done()
		se.readLoop()
	}()
}

// send queues m; a page that does not keep up is disconnected (it reloads
// its state from a snapshot when it comes back).
func (se *session) send(m outMsg) {
	select {
	case se.out <- m:
	case <-se.done:
	default:
		se.s.log.Info("web: page too slow, closing its session")
		se.close()
	}
}

func (se *session) close() {
	se.once.Do(func() {
		close(se.done)
		_ = se.conn.Close()
	})
}

func (se *session) writeLoop() {
	defer se.close()
	for {
		select {
		case <-se.done:
			return
		case <-se.s.ctx.Done():
			_ = se.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "device stopping"), time.Now().Add(time.Second))
			return
		case m := <-se.out:
			b, err := json.Marshal(m)
			if err != nil {
				se.s.log.Error("web: encode", "err", err)
				return
			}
			_ = se.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := se.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
		}
	}
}

func (se *session) readLoop() {
	defer func() {
		if se.hub != nil {
			se.toHub(hubReq{se: se, leave: true})
		}
		se.close()
	}()
	p := se.s.params
	msgs := guard.NewLimiter[int](guard.Rate{PerSecond: p.MsgRate, Burst: p.MsgBurst}, 1)
	bytes := guard.NewLimiter[int](guard.Rate{PerSecond: p.ByteRate, Burst: p.ByteBurst}, 1)
	se.send(outMsg{T: "docs", Docs: se.s.docList(), Self: se.s.name})
	for {
		kind, b, err := se.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		if kind != websocket.TextMessage || !msgs.Allow(0, now) || !bytes.AllowN(0, float64(len(b)), now) {
			se.refuse("over the message budget or not text")
			return
		}
		m, op, err := decodeIn(b)
		if err != nil {
			se.refuse(err.Error())
			return
		}
		if m.T == inMirror || m.T == inScan {
			se.mirrorRequest(m.T)
			continue
		}
		if m.T == inOpen {
			if !se.open(m.Doc) {
				return
			}
			continue
		}
		if se.hub == nil {
			se.refuse("no document open")
			return
		}
		if !se.toHub(hubReq{se: se, m: m, op: op}) {
			return
		}
	}
}

// refuse closes the session with the reason (the page shows it).
func (se *session) refuse(reason string) {
	se.s.log.Info("web: page message refused", "reason", reason)
	_ = se.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.ClosePolicyViolation, truncate(reason, 120)), time.Now().Add(time.Second))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// open switches the session to the document named by hex id.
func (se *session) open(id string) bool {
	var doc docsync.DocID
	if b, err := hex.DecodeString(id); err != nil || len(b) != len(doc) {
		se.refuse("document ID")
		return false
	}
	_, _ = hex.Decode(doc[:], []byte(id))
	known := false
	for _, d := range se.s.docList() {
		known = known || d.ID == id
	}
	if !known {
		se.send(outMsg{T: "error", Error: "this device does not hold document " + id})
		return true
	}
	if se.hub != nil {
		se.toHub(hubReq{se: se, leave: true})
	}
	h, err := se.s.hubFor(doc)
	if err != nil {
		se.send(outMsg{T: "error", Error: err.Error()})
		se.hub = nil
		return true
	}
	se.hub = h
	return se.toHub(hubReq{se: se, join: true})
}

// toHub hands r to the hub's loop (false: the session or server ended).
func (se *session) toHub(r hubReq) bool {
	select {
	case se.hub.reqs <- r:
		return true
	case <-se.done:
		return false
	case <-se.s.ctx.Done():
		return false
	}
}
