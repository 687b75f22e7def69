package netproto

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// MaxHistoryBatch caps the entries one history reply carries.
const MaxHistoryBatch = 1024

// MaxReplyBytes caps the bytes of entries one history reply or push may
// carry, whatever their count: what one peer's answer can make us hold.
const MaxReplyBytes = 64 << 20

// MaxPushEntries and MaxPushBytes cap the entries of one push: what a
// sequencer sends a member without a feed on one stream (PushBatches).
const (
	MaxPushEntries = 16
	MaxPushBytes   = 2 * MaxFrame
)

// PushBatches splits encoded entries, in order, into pushes within
// MaxPushEntries and MaxPushBytes (an entry larger than MaxPushBytes, which
// no sequencer makes, goes alone).
func PushBatches(es [][]byte) [][][]byte {
	var out [][][]byte
	for len(es) > 0 {
		n, size := 0, 0
		for n < len(es) && n < MaxPushEntries && (n == 0 || size+len(es[n]) <= MaxPushBytes) {
			size += len(es[n])
			n++
		}
		out = append(out, es[:n])
		es = es[n:]
	}
	return out
}

// EntrySource returns the encoded entries of doc in from..to (at most max of
// them, in seq order, stopping at the first one it lacks).
type EntrySource func(who peer.ID, doc docsync.DocID, from, to uint64, max int) ([][]byte, error)

// ServeHistory answers one history request on s from src. deadline bounds
// the whole exchange.
func ServeHistory(s network.Stream, src EntrySource, deadline time.Duration) error {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(deadline))
	r := bufio.NewReader(s)
	b, err := ReadFrame(r, historyRequestSize)
	if err != nil {
		_ = s.Reset()
		return err
	}
	req, err := DecodeHistoryRequest(b)
	if err != nil {
		_ = s.Reset()
		return err
	}
	entries, err := src(s.Conn().RemotePeer(), req.Doc, req.From, req.To, MaxHistoryBatch)
	var compacted *CompactedError
	if errors.As(err, &compacted) {
		// The range is behind our snapshot: say so, and where the snapshot is.
		entries, err = [][]byte{compacted.frame()}, nil
	}
	if err != nil {
		_ = s.Reset()
		return err
	}
	w := bufio.NewWriter(s)
	for _, e := range entries {
		if err := WriteFrame(w, e); err != nil {
			_ = s.Reset()
			return err
		}
	}
	if err := WriteFrame(w, nil); err != nil {
		_ = s.Reset()
		return err
	}
	return w.Flush()
}

// FetchHistory asks p for the entries of doc in from..to. It returns what p
// sent (decoded, not verified: the replica verifies them) before an error;
// a *CompactedError when p keeps only a snapshot of the start of the range.
func FetchHistory(ctx context.Context, h host.Host, p peer.ID, doc docsync.DocID, from, to uint64) ([]*docsync.Entry, error) {
	s, err := h.NewStream(ctx, p, HistoryProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := WriteFrame(s, HistoryRequest{Doc: doc, From: from, To: to}.Marshal()); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	return ReadEntries(bufio.NewReader(s), MaxHistoryBatch, MaxReplyBytes)
}

// ReadEntries reads entry frames up to the empty end frame: at most max
// entries and maxBytes bytes of them.
func ReadEntries(r *bufio.Reader, maxEntries, maxBytes int) ([]*docsync.Entry, error) {
	var out []*docsync.Entry
	for {
		b, err := ReadFrame(r, max(0, min(MaxFrame, maxBytes)))
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: stream ended without the end frame", ErrMalformed)
			}
			return out, err
		}
		if len(b) == 0 {
			return out, nil
		}
		if len(out) >= maxEntries {
			return out, fmt.Errorf("%w: more than %d entries", ErrMalformed, maxEntries)
		}
		if c, ok := decodeCompacted(b); ok {
			return out, c
		}
		maxBytes -= len(b)
		e, err := docsync.DecodeEntry(b)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

// PushEntries sends encoded entries to p on the push protocol.
func PushEntries(ctx context.Context, h host.Host, p peer.ID, entries [][]byte) error {
	s, err := h.NewStream(ctx, p, PushProtocol)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	w := bufio.NewWriter(s)
	for _, e := range entries {
		if err := WriteFrame(w, e); err != nil {
			_ = s.Reset()
			return err
		}
	}
	if err := WriteFrame(w, nil); err != nil {
		_ = s.Reset()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = s.Reset()
		return err
	}
	return s.Close()
}

// Request sends one frame on a new stream of proto and reads the reply frame.
func Request(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, body []byte, limit int) ([]byte, error) {
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := WriteFrame(s, body); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	return ReadReply(bufio.NewReader(s), limit)
}
