package netsim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// rawStream writes b on a new stream and reads whatever comes back.
func rawStream(t *testing.T, from *Peer, to peer.ID, proto protocol.ID, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := from.H.NewStream(ctx, to, proto)
	if err != nil {
		t.Fatalf("stream %s: %v", proto, err)
	}
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = s.Write(b)
	_ = s.CloseWrite()
	_, _ = io.Copy(io.Discard, s)
	_ = s.Close()
}

func frame(b []byte) []byte {
	var buf bytes.Buffer
	_ = netproto.WriteFrame(&buf, b)
	return buf.Bytes()
}

// hugePrefix is a frame header announcing far more than any cap.
func hugePrefix() []byte { return binary.AppendUvarint(nil, 1<<40) }

// Garbage, oversized, unsigned, forged and wrong-document messages on every
// topic and stream are rejected and counted; nothing crashes and the
// document keeps working.
func TestBadInputRejectedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		n.Scoring = true
		seq := n.AddSequencer()
		clones := []*Clone{n.AddClone(), n.AddClone(), n.AddClone()}
		d := n.NewDoc(seq, clones...)
		ctx := context.Background()
		if err := clones[0].Svc.Edit(ctx, d.ID, mustPatch(t, 0, 0, "hello")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		log, err := clones[0].Svc.Log(d.ID, 1, 10)
		if err != nil || len(log) < 4 {
			t.Fatalf("log: %v %v", log, err)
		}
		realEntry := fetchOne(t, clones[1], seq, d.ID)

		evil := n.AddPeer(nil, nil)
		Connect(t, evil, seq.Peer)
		for _, c := range clones {
			Connect(t, evil, c.Peer)
		}
		join := func(name string) *pubsub.Topic {
			tp, err := evil.PS.Join(name)
			if err != nil {
				t.Fatal(err)
			}
			return tp
		}
		submit, entries, heads := join(netproto.SubmitTopic(d.ID)), join(netproto.EntriesTopic(d.ID)), join(netproto.HeadsTopic(d.ID))
		WaitUntil(t, time.Minute, "evil peer sees the topics' subscribers", func() bool {
			return len(submit.ListPeers()) > 0 && len(entries.ListPeers()) == 3 && len(heads.ListPeers()) == 3
		})

		// A well-formed envelope by the evil peer itself, for another document.
		evilKey, err := netproto.SigningKey(evil.Key)
		if err != nil {
			t.Fatal(err)
		}
		var other docsync.DocID
		other[0] = 1
		wrongDoc := &docsync.Envelope{Doc: other, Counter: 1, Kind: docsync.KindMember, Epoch: 1}
		copy(wrongDoc.Author[:], evilKey.Public().(ed25519.PublicKey))
		wrongDoc.Sign(evilKey)
		unsigned := *wrongDoc
		unsigned.Doc = d.ID
		unsigned.Sig = make([]byte, ed25519.SignatureSize)
		// A member's genuine envelope, relayed by someone else. (Not one
		// the sequencer has seen: messages are named by their bytes, and
		// a copy of a seen one is a duplicate, dropped unread.)
		stolen := realEntry.Envelope
		for _, c := range clones {
			if m, err := netproto.MemberOf(c.H.ID()); err == nil && m == stolen.Author {
				k, err := netproto.SigningKey(c.Key)
				if err != nil {
					t.Fatal(err)
				}
				stolen.Counter += 1000
				stolen.Sign(k)
			}
		}

		submits := [][]byte{[]byte("garbage"), marshal(t, wrongDoc), marshal(t, &unsigned), marshal(t, &stolen)}
		for _, b := range submits {
			if err := submit.Publish(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		wrongEntry := *realEntry
		wrongEntry.Head.Doc = other
		// (A real entry relayed by anyone is a valid message: messages carry
		// no publisher, the sequencer's signature vouches for the entry.)
		entryMsgs := [][]byte{[]byte("garbage"), marshal(t, &wrongEntry)}
		for _, b := range entryMsgs {
			if err := entries.Publish(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		forgedHead := realEntry.Head
		forgedHead.ChainHash[0] ^= 1 // signature no longer matches
		headMsgs := [][]byte{[]byte("garbage"), marshalHead(t, forgedHead)}
		for _, b := range headMsgs {
			if err := heads.Publish(ctx, b); err != nil {
				t.Fatal(err)
			}
		}

		// Streams: garbage, oversized and malformed requests.
		badStreams := []struct {
			to    *Peer
			proto protocol.ID
			b     []byte
		}{
			{seq.Peer, netproto.RegisterProtocol, []byte("garbage")},
			{seq.Peer, netproto.RegisterProtocol, hugePrefix()},
			{seq.Peer, netproto.RegisterProtocol, frame(marshal(t, &stolen))}, // not a genesis
			{seq.Peer, netproto.HistoryProtocol, frame([]byte("short"))},
			{seq.Peer, netproto.HistoryProtocol, hugePrefix()},
			{clones[0].Peer, netproto.PushProtocol, frame([]byte("garbage"))},
			{clones[0].Peer, netproto.PushProtocol, hugePrefix()},
			{clones[0].Peer, netproto.InviteProtocol, frame([]byte("garbage"))},
			{clones[0].Peer, netproto.InviteProtocol, hugePrefix()},
			{clones[0].Peer, netproto.HistoryProtocol, hugePrefix()},
		}
		for _, bs := range badStreams {
			rawStream(t, evil, bs.to.H.ID(), bs.proto, bs.b)
		}
		// A pushed entry that is well formed but forged is refused by the replica.
		forged := *realEntry
		forged.Head.Seq = 1000
		rawStream(t, evil, clones[0].H.ID(), netproto.PushProtocol, append(frame(marshal(t, &forged)), frame(nil)...))

		WaitUntil(t, time.Minute, "rejections counted", func() bool {
			var invalid, bad uint64
			for _, c := range clones {
				invalid += c.Svc.Stats().InvalidTopic
			}
			bad = seq.Svc.Stats().BadStreams + clones[0].Svc.Stats().BadStreams
			return seq.Svc.Stats().Invalid >= uint64(len(submits)) &&
				invalid >= uint64(len(entryMsgs)+len(headMsgs)) && bad >= uint64(len(badStreams))
		})
		var invalid uint64
		for _, c := range clones {
			invalid += c.Svc.Stats().InvalidTopic
		}
		// ValidationReject lowered the evil peer's gossipsub score (P4).
		WaitUntil(t, time.Minute, "the bad sender's score drops", func() bool {
			return seq.Score(evil.H.ID()) < 0 && clones[0].Score(evil.H.ID()) < 0
		})
		t.Logf("evil peer's score: at the sequencer %.0f, at clone 0 %.0f; honest clone 1 at clone 0: %.0f",
			seq.Score(evil.H.ID()), clones[0].Score(evil.H.ID()), clones[0].Score(clones[1].H.ID()))
		t.Logf("sequencer: %+v; clones: %d topic messages rejected; clone 0: %+v", seq.Svc.Stats(), invalid, clones[0].Svc.Stats())

		// Still working: an edit converges everywhere, nothing forged applied.
		if err := clones[2].Svc.Edit(ctx, d.ID, mustPatch(t, 5, 0, " world")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		if txt, _ := clones[1].Svc.Text(d.ID); txt != "hello world" {
			t.Fatalf("text %q", txt)
		}
	})
}

func marshal(t *testing.T, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marshalHead(t *testing.T, h docsync.Head) []byte { return marshal(t, &h) }

// fetchOne fetches the latest entry of doc from the sequencer.
func fetchOne(t *testing.T, c *Clone, seq *Sequencer, doc docsync.DocID) *docsync.Entry {
	t.Helper()
	in, err := c.Svc.Info(doc)
	if err != nil {
		t.Fatal(err)
	}
	es, err := netproto.FetchHistory(context.Background(), c.H, seq.H.ID(), doc, in.Seq, in.Seq)
	if err != nil || len(es) != 1 {
		t.Fatalf("fetch: %v (%d)", err, len(es))
	}
	return es[0]
}
