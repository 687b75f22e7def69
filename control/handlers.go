package control

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail maps err to a status and code: the client maps them back to sentinels.
func fail(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, codeFailed
	switch {
	case errors.Is(err, ErrBadRequest):
		status, code = http.StatusBadRequest, codeBadRequest
	case errors.Is(err, ErrUnknownDoc), errors.Is(err, cloneservice.ErrUnknownDoc):
		status, code = http.StatusNotFound, codeUnknownDoc
	case errors.Is(err, docsync.ErrHalted), errors.Is(err, cloneservice.ErrStorage):
		status, code = http.StatusConflict, codeHalted
	case errors.Is(err, netproto.ErrCompacted): // the message names the first entry kept
		status = http.StatusGone
	}
	writeJSON(w, status, errorBody{Error: err.Error(), Code: code})
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.params.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

// docOf resolves the {doc} path value: 64 hex digits, or a unique prefix
// of at least 8 among the tracked documents.
func (s *Server) docOf(r *http.Request) (docsync.DocID, error) {
	var id docsync.DocID
	v := strings.ToLower(r.PathValue("doc"))
	if len(v) == 2*len(id) {
		if _, err := hex.Decode(id[:], []byte(v)); err != nil {
			return id, badRequest("document ID %q: %v", v, err)
		}
		return id, nil
	}
	if len(v) < 8 {
		return id, badRequest("document ID %q: want 64 hex digits or a prefix of at least 8", v)
	}
	n := 0
	all := s.svc.Docs()
	for d := range s.svc.Unopened() {
		all = append(all, d)
	}
	for _, d := range all {
		if strings.HasPrefix(hex.EncodeToString(d[:]), v) {
			id, n = d, n+1
		}
	}
	switch n {
	case 0:
		return id, fmt.Errorf("%w: no document starts with %s", ErrUnknownDoc, v)
	case 1:
		return id, nil
	}
	return id, fmt.Errorf("%w: %d documents start with %s", ErrUnknownDoc, n, v)
}

func (s *Server) opContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.params.OpTimeout)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	me := s.svc.ID()
	writeJSON(w, http.StatusOK, Status{Peer: s.self.String(), Member: hexOf(me[:]), Docs: len(s.svc.Docs()), Stats: s.svc.Stats()})
}

func (s *Server) listDocs(w http.ResponseWriter, _ *http.Request) {
	l := DocList{Docs: []string{}}
	for _, d := range s.svc.Docs() {
		l.Docs = append(l.Docs, hexOf(d[:]))
	}
	for d, err := range s.svc.Unopened() {
		l.Unopened = append(l.Unopened, Unopened{Doc: hexOf(d[:]), Error: err.Error()})
	}
	sort.Slice(l.Unopened, func(i, j int) bool { return l.Unopened[i].Doc < l.Unopened[j].Doc })
	writeJSON(w, http.StatusOK, l)
}

// forget removes a document and all this clone kept of it.
func (s *Server) forget(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.svc.Forget(ctx, doc); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"forgot": hexOf(doc[:])})
}

// sequencerInfo parses a /.../p2p/<id> multiaddr or a bare peer ID.
func (s *Server) sequencerInfo(ctx context.Context, v string) (peer.AddrInfo, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "/") {
		a, err := ma.NewMultiaddr(v)
		if err != nil {
			return peer.AddrInfo{}, badRequest("sequencer %q: %v", v, err)
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return peer.AddrInfo{}, badRequest("sequencer %q: %v (it must end in /p2p/<peer ID>)", v, err)
		}
		return *info, nil
	}
	id, err := peer.Decode(v)
	if err != nil {
		return peer.AddrInfo{}, badRequest("sequencer %q: not a peer ID or /p2p multiaddr: %v", v, err)
	}
	if s.resolve == nil {
		return peer.AddrInfo{}, badRequest("sequencer %s: give its /p2p multiaddr (no resolver)", id)
	}
	info, err := s.resolve(ctx, id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%w: find sequencer %s: %v", ErrFailed, id, err)
	}
	return info, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.sequencerInfo(ctx, req.Sequencer)
	if err != nil {
		fail(w, err)
		return
	}
	doc, err := s.svc.Create(ctx, info)
	if err != nil {
		fail(w, err)
		return
	}
	s.log.Info("document created", "doc", hexOf(doc[:]), "sequencer", info.ID)
	writeJSON(w, http.StatusOK, CreateResult{Doc: hexOf(doc[:])})
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	in, err := s.svc.Info(doc)
	if err != nil {
		fail(w, err)
		return
	}
	text, err := s.svc.Text(doc)
	if err != nil {
		fail(w, err)
		return
	}
	out := DocInfo{Doc: hexOf(doc[:]), Sequencer: in.Sequencer.String(), Seq: in.Seq, Applied: in.Applied,
		Head: hexOf(in.Head[:]), Epoch: in.Epoch, Role: in.Role.String(), Members: in.Members,
		Pending: in.Pending, Missing: in.Missing, Alarm: alarmOf(in.Halted), Stalled: stallOf(in.Stalled), Text: text}
	for _, k := range in.Misbehaved {
		out.Misbehaved = append(out.Misbehaved, k.String())
	}
	for _, k := range in.Recovered {
		out.Recovered = append(out.Recovered, k.String())
	}
	if in.Role == 0 {
		out.Role = "none"
	}
	if in.Broken != nil {
		out.Broken = in.Broken.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	ms, err := s.svc.Members(doc)
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]MemberInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, MemberInfo{Member: hexOf(m.ID[:]), Peer: m.Peer.String(), Role: m.Role.String()})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	var req InviteRequest
	doc, err := s.docOf(r)
	if err == nil {
		err = s.decode(w, r, &req)
	}
	if err != nil {
		fail(w, err)
		return
	}
	user, err := peer.Decode(req.User)
	if err != nil {
		fail(w, badRequest("user %q: not a user ID: %v", req.User, err))
		return
	}
	if req.Device == "" {
		fail(w, badRequest("empty device name"))
		return
	}
	role, ok := parseRole(req.Role)
	if !ok {
		fail(w, badRequest("role %q: want reader, writer or admin", req.Role))
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	m, err := s.svc.Invite(ctx, doc, user, req.Device, role)
	if err != nil {
		fail(w, err)
		return
	}
	p, _ := netproto.PeerOf(m[:])
	s.log.Info("member invited", "doc", hexOf(doc[:]), "user", user, "device", req.Device, "peer", p)
	writeJSON(w, http.StatusOK, InviteResult{Member: hexOf(m[:]), Peer: p.String()})
}

// memberOf reads a MemberID (64 hex digits) or a clone's peer ID.
func memberOf(v string) (docsync.MemberID, error) {
	var m docsync.MemberID
	if len(v) == 2*len(m) {
		if _, err := hex.Decode(m[:], []byte(v)); err == nil {
			return m, nil
		}
	}
	p, err := peer.Decode(v)
	if err != nil {
		return m, badRequest("member %q: not a member ID (64 hex digits) or a peer ID", v)
	}
	m, err = netproto.MemberOf(p)
	if err != nil {
		return m, badRequest("member %q: %v", v, err)
	}
	return m, nil
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	var req RemoveRequest
	doc, err := s.docOf(r)
	if err == nil {
		err = s.decode(w, r, &req)
	}
	var m docsync.MemberID
	if err == nil {
		m, err = memberOf(req.Member)
	}
	if err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.svc.Remove(ctx, doc, m); err != nil {
		fail(w, err)
		return
	}
	s.log.Info("member removed", "doc", hexOf(doc[:]), "member", hexOf(m[:]))
	writeJSON(w, http.StatusOK, struct{}{})
}

// editOps builds the ops of req on the text's current length.
func editOps(req EditRequest, length int) ([]ot.Op, error) {
	var op ot.Op
	var err error
	switch req.Kind {
	case EditInsert:
		if req.At < 0 || req.At > length {
			return nil, badRequest("insert at %d: the text has %d code points", req.At, length)
		}
		op, err = ot.FromPatch(length, req.At, 0, req.Text)
	case EditAppend:
		op, err = ot.FromPatch(length, length, 0, req.Text)
	case EditDelete:
		if req.At < 0 || req.At > length || req.Count <= 0 || req.Count > length-req.At {
			return nil, badRequest("delete %d at %d: the text has %d code points", req.Count, req.At, length)
		}
		op, err = ot.FromPatch(length, req.At, req.Count, "")
	case EditSet:
		op, err = ot.FromPatch(length, 0, length, req.Text)
	default:
		return nil, badRequest("edit kind %q: want insert, delete, append or set", req.Kind)
	}
	if err != nil {
		return nil, badRequest("edit: %v", err)
	}
	return []ot.Op{op}, nil
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request) {
	var req EditRequest
	doc, err := s.docOf(r)
	if err == nil {
		err = s.decode(w, r, &req)
	}
	if err == nil && !utf8.ValidString(req.Text) {
		err = badRequest("text is not valid UTF-8")
	}
	if err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	length := 0
	err = s.svc.EditFunc(ctx, doc, func(n int) ([]ot.Op, error) {
		ops, err := editOps(req, n)
		if err == nil {
			length = ops[0].TargetLen
		}
		return ops, err
	})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, EditResult{Length: length})
}

func (s *Server) logEntries(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	in, err := s.svc.Info(doc)
	if err != nil {
		fail(w, err)
		return
	}
	from, to := uint64(1), in.Seq
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil || from == 0 {
			fail(w, badRequest("from %q: want a seq >= 1", v))
			return
		}
	}
	if v := r.URL.Query().Get("to"); v != "" {
		if to, err = strconv.ParseUint(v, 10, 64); err != nil {
			fail(w, badRequest("to %q: want a seq", v))
			return
		}
	}
	to = min(to, in.Seq, from+s.params.MaxLog-1)
	out := []LogEntry{}
	if from <= to {
		entries, err := s.svc.Log(doc, from, to)
		if err != nil {
			fail(w, err)
			return
		}
		for _, e := range entries {
			out = append(out, LogEntry{Seq: e.Seq, Author: hexOf(e.Author[:]), Counter: e.Counter, Parent: e.Parent,
				Kind: kindName(e.Kind), Epoch: e.Epoch, Size: e.Size, Chain: hexOf(e.ChainHash[:])})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// events streams the document's events as JSON lines until the client
// leaves or the server closes. The current fork alarm, if any, comes first,
// so a watcher started after the fork still sees it.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	// Subscribe before reading Info: a fork between the two then shows up
	// in both (a repeated alarm is harmless), never in neither.
	ch, cancel, err := s.svc.Subscribe(doc)
	if err != nil {
		fail(w, err)
		return
	}
	defer cancel()
	in, err := s.svc.Info(doc)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(ev Event) bool {
		if enc.Encode(ev) != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	// The alarms raised before the watch began come first, stamped with
	// the time they are sent.
	now := time.Now()
	if in.Halted != nil && !send(Event{Kind: "alarm", Seq: in.Halted.A.Seq, Alarm: alarmOf(in.Halted), Time: now}) {
		return
	}
	if len(in.Misbehaved) > 0 {
		evs, err := s.svc.Evidence(doc)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if ev.Kind != docsync.EvidenceFork && !send(Event{Kind: "alarm", Seq: ev.B.Seq, Misbehaviour: misbehaviourOf(ev), Time: now}) {
				return
			}
		}
	}
	if in.Stalled != nil && !send(Event{Kind: "alarm", Stalled: stallOf(in.Stalled), Time: in.Stalled.Since}) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case ev, ok := <-ch:
			if !ok || !send(eventOf(ev)) {
				return
			}
		}
	}
}

// evidence returns the evidence the clone keeps against the document's
// sequencer, each encoded as c2c verify-evidence reads it.
func (s *Server) evidence(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	evs, err := s.svc.Evidence(doc)
	if err != nil {
		fail(w, err)
		return
	}
	out := []EvidenceItem{}
	for _, ev := range evs {
		b, err := ev.Marshal()
		if err != nil {
			fail(w, err)
			return
		}
		out = append(out, EvidenceItem{Kind: ev.Kind.String(), Seq: ev.B.Seq,
			Sequencer: hex.EncodeToString(ev.Sequencer), Data: b})
	}
	writeJSON(w, http.StatusOK, out)
}
