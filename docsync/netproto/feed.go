package netproto

import (
	"encoding/binary"
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// FeedProtocol is a member clone's long-lived subscription to a document's
// entries at its sequencer. The clone opens the stream to the document's
// sequencer peer and writes one FeedRequest; the sequencer, if the clone
// is a current member, writes the entries from From that it holds, then
// each entry as it becomes durable, one frame each, for as long as the
// stream lives. The clone reads entries only from streams it opened to the
// sequencer peer named in the document's genesis, so nobody else can
// push entries this way; each entry still verifies end to end.
//
// It replaces the entries topic as the way an entry reaches the members:
// flood publish plus the mesh handed every member five to seven copies of
// each entry and announced it in IHAVE besides. The feed carries one.
const FeedProtocol protocol.ID = "/c2c/doc/feed/1.0.0"

// FeedRequest opens a feed: the entries of Doc from seq From on.
type FeedRequest struct {
	Doc  docsync.DocID
	From uint64
}

// FeedRequestSize is the size of an encoded FeedRequest.
const FeedRequestSize = 32 + 8

// Marshal encodes the request: doc || from (big-endian).
func (r FeedRequest) Marshal() []byte {
	b := make([]byte, 0, FeedRequestSize)
	b = append(b, r.Doc[:]...)
	return binary.BigEndian.AppendUint64(b, r.From)
}

// DecodeFeedRequest decodes and checks a request (From >= 1).
func DecodeFeedRequest(b []byte) (FeedRequest, error) {
	var r FeedRequest
	if len(b) != FeedRequestSize {
		return r, fmt.Errorf("%w: feed request is %d bytes", ErrMalformed, len(b))
	}
	copy(r.Doc[:], b[:32])
	r.From = binary.BigEndian.Uint64(b[32:])
	if r.From == 0 {
		return r, fmt.Errorf("%w: feed from seq 0", ErrMalformed)
	}
	return r, nil
}

// MaxFeedCatchUp caps the stored entries a feed sends before the live
// ones: a member further behind fetches the rest (HistoryProtocol).
const MaxFeedCatchUp = MaxHistoryBatch
