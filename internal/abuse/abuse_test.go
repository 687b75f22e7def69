package abuse

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/link"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := NewHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func TestJunkInvitationDecodes(t *testing.T) {
	a, err := JunkInvitation()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := JunkInvitation()
	ia, err := netproto.DecodeInvitation(a)
	if err != nil {
		t.Fatalf("junk invitation does not decode: %v", err)
	}
	ib, _ := netproto.DecodeInvitation(b)
	if ia.Doc == ib.Doc || bytes.Equal(ia.Sequencer, ib.Sequencer) || len(ia.Addrs) != 0 {
		t.Fatalf("two junk invitations share a document or sequencer, or carry addresses: %+v %+v", ia, ib)
	}
}

func TestGenesisIsAuthoredBySender(t *testing.T) {
	h, seq := newHost(t), newHost(t)
	id, err := Identity(h)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Genesis(id, seq.ID())
	if err != nil {
		t.Fatal(err)
	}
	env, err := docsync.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	me, _ := netproto.MemberOf(h.ID())
	seqPub, _ := netproto.MemberOf(seq.ID())
	op, err := docsync.DecodeMemberOp(env.Body)
	if err != nil || env.Author != me || env.Kind != docsync.KindMember || env.Parent != 0 ||
		op.Type != docsync.OpGenesis || !bytes.Equal(op.Sequencer, seqPub[:]) {
		t.Fatalf("genesis %+v op %+v (%v): not a genesis by %x for %x", env, op, err, me, seqPub)
	}
	if err := env.VerifyAuthor(); err != nil {
		t.Fatalf("genesis signature: %v", err)
	}
}

// Every stream ends as exactly one of accepted, refused or an error.
func checkTotals(t *testing.T, what string, r Result, tried int) {
	t.Helper()
	t.Logf("%s: %+v", what, r)
	if r.Tried != tried || r.Accepted+r.Refused+r.Errors != tried || r.Errors != 0 {
		t.Fatalf("%s: %+v, want %d tried, no errors", what, r, tried)
	}
}

// The request attacks against the real services on loopback: every
// request gets an answer, and the hardened services refuse the junk
// invitations and a non-member's history request.
func TestAttacksReachTheServices(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback network")
	}
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, b)
	h := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	checkTotals(t, "register", RegisterFlood(ctx, h, seq.Info(), 5), 5)
	if r := InviteFlood(ctx, h, a.Info(), 5); r.Refused != 5 {
		t.Fatalf("junk invitations: %+v, want all 5 refused", r)
	}
	for name, target := range map[string]peer.AddrInfo{"sequencer": seq.Info(), "clone": a.Info()} {
		r := HistoryFetch(ctx, h, target, d.ID)
		checkTotals(t, "history from "+name, r, 1)
		if r.Refused != 1 || r.Items != 0 {
			t.Fatalf("history from %s to a stranger: %+v, want refused", name, r)
		}
	}
	if r := InviteFlood(ctx, h, peer.AddrInfo{ID: b.H.ID()}, 3); r.Errors != 1 || r.Opened != 0 {
		t.Fatalf("flood of a peer with no address: %+v, want one error", r)
	}
}

func TestSlowFramesHoldsUntilTheEnd(t *testing.T) {
	target := newHost(t)
	prefix := make(chan uint64, 64)
	reset := make(chan bool, 1)
	reset <- false
	target.SetStreamHandler(link.Protocol, func(st network.Stream) {
		n, err := binary.ReadUvarint(bufioReader{st})
		if err == nil {
			prefix <- n
		}
		r := <-reset
		reset <- r
		if r {
			_ = st.Reset()
			return
		}
		_, _ = io.Copy(io.Discard, st) // until the attacker resets
	})
	h := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	r := SlowFrames(ctx, h, info(target), 20, 16<<20)
	cancel()
	if r.Tried != 20 || r.Opened != 20 || r.Accepted != 20 {
		t.Fatalf("holding target: %+v, want 20 streams held to the end", r)
	}
	if got := <-prefix; got != 16<<20 {
		t.Fatalf("announced %d bytes, want %d", got, 16<<20)
	}

	<-reset
	reset <- true
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	r = SlowFrames(ctx, h, info(target), 4, 1<<20)
	cancel()
	if r.Tried != 4 || r.Refused != 4 || r.Reasons["ended by the target after 0s"] != 4 {
		t.Fatalf("resetting target: %+v, want 4 refused at once", r)
	}
}

// bufioReader reads one byte at a time, so that ReadUvarint consumes only
// the prefix.
type bufioReader struct{ r io.Reader }

func (b bufioReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.r, c[:])
	return c[0], err
}
