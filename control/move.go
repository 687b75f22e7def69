package control

import (
	"context"
	"net/http"

	"github.com/clone2clone/c2c/docsync/netproto"
)

// MoveRequest is POST /v1/docs/{doc}/move: Sequencer is the new
// sequencer's /p2p multiaddr (or peer ID, looked up); Takeover asks the new
// sequencer to order the move itself, for a current one that stopped.
type MoveRequest struct {
	Sequencer string `json:"sequencer"`
	Takeover  bool   `json:"takeover,omitempty"`
}

// MoveResult answers MoveRequest: the move committed at Seq, and the new
// sequencer signs from From on.
type MoveResult struct {
	Seq       uint64 `json:"seq"`
	From      uint64 `json:"from"`
	Sequencer string `json:"sequencer"`
	Takeover  bool   `json:"takeover"`
}

// move moves a document to another sequencer; it returns once the move is
// committed and the new sequencer holds the history.
func (s *Server) move(w http.ResponseWriter, r *http.Request) {
	doc, err := s.docOf(r)
	if err != nil {
		fail(w, err)
		return
	}
	var req MoveRequest
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
	if _, err := netproto.MemberOf(info.ID); err != nil {
		fail(w, badRequest("sequencer %s: %v", info.ID, err))
		return
	}
	mv, err := s.svc.Move(ctx, doc, info, req.Takeover)
	if err != nil {
		fail(w, err)
		return
	}
	s.log.Info("document moved", "doc", hexOf(doc[:]), "sequencer", info.ID, "seq", mv.Seq, "takeover", req.Takeover)
	writeJSON(w, http.StatusOK, MoveResult{Seq: mv.Seq, From: mv.From, Sequencer: info.ID.String(), Takeover: mv.From == mv.Seq})
}

// Move moves the document to another sequencer (see MoveRequest).
func (c *Client) Move(ctx context.Context, doc string, req MoveRequest) (MoveResult, error) {
	var out MoveResult
	return out, c.do(ctx, http.MethodPost, docPath(doc, "/move"), req, &out)
}
