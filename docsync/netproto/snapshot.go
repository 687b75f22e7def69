package netproto

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// SnapshotProtocol serves a member's latest signed snapshot of a document
// (docs/snapshots.md): a joiner starts from it, then fetches the entries
// after its seq on HistoryProtocol.
const SnapshotProtocol protocol.ID = "/c2c/doc/snapshot/1.0.0"

// ErrNoSnapshot: the peer keeps no snapshot of the document.
var ErrNoSnapshot = errors.New("netproto: no snapshot kept")

// ErrCompacted: the peer no longer keeps the entries asked for; they are
// behind its snapshot (see CompactedError).
var ErrCompacted = errors.New("netproto: entries compacted")

// CompactedError is a history reply saying that entries before FirstKept
// were compacted behind the snapshot at Snapshot: ask SnapshotProtocol.
type CompactedError struct{ FirstKept, Snapshot uint64 }

func (e *CompactedError) Error() string {
	return fmt.Sprintf("%v: entries before %d are compacted behind the snapshot at seq %d", ErrCompacted, e.FirstKept, e.Snapshot)
}

// Unwrap makes errors.Is(err, ErrCompacted) hold.
func (e *CompactedError) Unwrap() error { return ErrCompacted }

// compactedTag starts the frame that answers a compacted range: byte 0 is
// field number 0 in protobuf, so no encoded entry ever starts with it.
var compactedTag = []byte{0x00, 'C'}

const compactedFrameSize = 2 + 8 + 8

func (e *CompactedError) frame() []byte {
	b := append([]byte(nil), compactedTag...)
	b = binary.BigEndian.AppendUint64(b, e.FirstKept)
	return binary.BigEndian.AppendUint64(b, e.Snapshot)
}

// decodeCompacted reads a compacted frame; ok is false for anything else.
func decodeCompacted(b []byte) (*CompactedError, bool) {
	if len(b) != compactedFrameSize || b[0] != compactedTag[0] || b[1] != compactedTag[1] {
		return nil, false
	}
	return &CompactedError{FirstKept: binary.BigEndian.Uint64(b[2:10]), Snapshot: binary.BigEndian.Uint64(b[10:])}, true
}

// SnapshotSource returns the encoded latest snapshot of doc kept for who
// (nil and no error: none kept).
type SnapshotSource func(who peer.ID, doc docsync.DocID) ([]byte, error)

// maxSnapshotReply is one reply frame: a status byte and a snapshot.
const maxSnapshotReply = docsync.MaxSnapshotBytes + 1

// ServeSnapshot answers one snapshot request on s from src: frame(doc);
// reply frame(status || snapshot, empty when none is kept, or error text).
func ServeSnapshot(s network.Stream, src SnapshotSource, deadline time.Duration) error {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(deadline))
	b, err := ReadFrame(bufio.NewReader(s), 32)
	if err != nil || len(b) != 32 {
		_ = s.Reset()
		return fmt.Errorf("%w: snapshot request: %v", ErrMalformed, err)
	}
	var doc docsync.DocID
	copy(doc[:], b)
	snap, err := src(s.Conn().RemotePeer(), doc)
	if err != nil {
		err = WriteReply(s, nil, err)
		return err
	}
	w := bufio.NewWriter(s)
	if _, err := bounded.WriteFrame(w, append([]byte{StatusOK}, snap...)); err != nil {
		_ = s.Reset()
		return err
	}
	return w.Flush()
}

// FetchSnapshot asks p for its latest snapshot of doc. The result's maker
// signature and shape are checked; the caller verifies it against the
// chain (docsync.Join does) before keeping anything of it.
func FetchSnapshot(ctx context.Context, h host.Host, p peer.ID, doc docsync.DocID) (*docsync.SealedSnapshot, error) {
	s, err := h.NewStream(ctx, p, SnapshotProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := WriteFrame(s, doc[:]); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	b, _, err := bounded.ReadFrame(bufio.NewReader(s), maxSnapshotReply)
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot reply: %w", ErrMalformed, err)
	}
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%w: empty reply", ErrMalformed)
	case b[0] == StatusError:
		return nil, fmt.Errorf("%w: %q", ErrRefused, b[1:min(len(b), 513)])
	case b[0] != StatusOK:
		return nil, fmt.Errorf("%w: reply status %d", ErrMalformed, b[0])
	case len(b) == 1:
		return nil, ErrNoSnapshot
	}
	return docsync.DecodeSealedSnapshot(b[1:])
}
