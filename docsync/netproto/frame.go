package netproto

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/bounded"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Stream protocol IDs.
const (
	RegisterProtocol protocol.ID = "/c2c/doc/register/1.0.0"
	HistoryProtocol  protocol.ID = "/c2c/doc/history/1.0.0"
	PushProtocol     protocol.ID = "/c2c/doc/push/1.0.0"
	InviteProtocol   protocol.ID = "/c2c/doc/invite/2.0.0"
	SubmitProtocol   protocol.ID = "/c2c/doc/submit/1.0.0"
)

// GossipMaxControlBytes is the gossipsub control-message cap every CloneDoc
// peer must accept (pubsub.WithMaxControlMessageSize). A peer's first RPC
// lists all its subscriptions in one message that gossipsub never splits,
// and a receiver resets the stream of a peer whose control part exceeds its
// cap (pubsub's default is 512 KiB). A sequencer subscribes to one submit
// topic per document, about 90 bytes each: at pubsub's default, a
// sequencer holding more than about 5,800 documents was invisible on every
// topic to each clone that connected afterwards. 2 MiB fits 23,000.
const GossipMaxControlBytes = 2 << 20

// MaxFrame caps one frame: an entry is the largest thing ever framed.
const MaxFrame = docsync.MaxEntryBytes

// Sentinel errors.
var (
	// ErrFrameTooLarge: a frame's length prefix exceeds the cap.
	ErrFrameTooLarge = errors.New("netproto: frame too large")
	// ErrMalformed: a frame or message failed to decode.
	ErrMalformed = errors.New("netproto: malformed message")
	// ErrRefused: the peer answered a request with an error status.
	ErrRefused = errors.New("netproto: request refused")
)

// topic names a document's topic: /c2c/doc/<doc>/<kind>, the DocID in
// unpadded base64url (43 characters). Every gossipsub message carries its
// topic, and so do IHAVE, GRAFT, PRUNE and subscriptions: in hex (64
// characters) the name was 81 bytes of a 225-byte head message.
func topic(doc docsync.DocID, kind string) string {
	return "/c2c/doc/" + base64.RawURLEncoding.EncodeToString(doc[:]) + "/" + kind
}

// SubmitTopic is the topic clones publish envelopes on.
func SubmitTopic(doc docsync.DocID) string { return topic(doc, "submit") }

// EntriesTopic is the topic the sequencer publishes ordered entries on.
func EntriesTopic(doc docsync.DocID) string { return topic(doc, "entries") }

// HeadsTopic is the topic members gossip signed heads on. Join it with
// HeadsTopicOpts.
func HeadsTopic(doc docsync.DocID) string { return topic(doc, "heads") }

// PresenceTopic is the topic members publish their devices' carets on
// (docsync/presence: sealed under the epoch key, signed by the member).
func PresenceTopic(doc docsync.DocID) string { return topic(doc, "presence") }

// HeadsTopicOpts make the heads topic content-addressed: a message's ID is
// the hash of its bytes, not its publisher and counter. Every honest member
// gossips the same sequencer-signed head for a seq, so gossipsub spreads it
// once instead of once per member; a forked head has other bytes and still
// spreads. Every peer on the topic must use the same ID function.
func HeadsTopicOpts() []pubsub.TopicOpt {
	return []pubsub.TopicOpt{pubsub.WithTopicMessageIdFn(MessageID)}
}

// MessageID names a message by its topic and bytes (the ID function of
// every c2c gossipsub router, GossipOptions). The topic is part of
// it because gossipsub's seen-cache is shared by all topics: bytes
// published on one topic first would otherwise make the same bytes on
// another a duplicate, dropped unread.
func MessageID(m *pubsubpb.Message) string {
	h := sha256.New()
	h.Write([]byte(m.GetTopic()))
	h.Write([]byte{0})
	h.Write(m.GetData())
	return string(h.Sum(nil))
}

// WriteFrame writes one frame: a uvarint length, then b.
func WriteFrame(w io.Writer, b []byte) error {
	if len(b) > MaxFrame {
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(b))
	}
	_, err := bounded.WriteFrame(w, b)
	return err
}

// ReadFrame reads one frame of at most limit bytes (limit <= MaxFrame). A
// length over the limit is ErrFrameTooLarge and nothing more is read; the
// body's buffer grows with the bytes that arrive (internal/bounded), so a
// peer that announces a large frame and stalls costs only what it sent.
func ReadFrame(r *bufio.Reader, limit int) ([]byte, error) {
	b, _, err := bounded.ReadFrame(r, max(0, min(limit, MaxFrame)))
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, io.EOF): // before the length (a short body is ErrShort)
		return nil, io.EOF
	case errors.Is(err, bounded.ErrTooLarge):
		return nil, fmt.Errorf("%w: %w", ErrFrameTooLarge, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
}

// Status bytes that start a reply frame.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// WriteReply writes a reply frame: StatusOK and body, or StatusError and
// the error text.
func WriteReply(w io.Writer, body []byte, err error) error {
	if err != nil {
		msg := err.Error()
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return WriteFrame(w, append([]byte{StatusError}, msg...))
	}
	return WriteFrame(w, append([]byte{StatusOK}, body...))
}

// ReadReply reads a reply frame; an error status is ErrRefused.
func ReadReply(r *bufio.Reader, limit int) ([]byte, error) {
	b, err := ReadFrame(r, limit+1)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty reply", ErrMalformed)
	}
	switch b[0] {
	case StatusOK:
		return b[1:], nil
	case StatusError:
		return nil, fmt.Errorf("%w: %q", ErrRefused, b[1:])
	}
	return nil, fmt.Errorf("%w: reply status %d", ErrMalformed, b[0])
}

// ShortError renders err for a log line, cut to 200 bytes: errors about
// peers' input can quote that input. A nil error is "".
func ShortError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
