package netsim

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore/query"
)

// A stranger's adopt requests are refused and leave nothing on the
// sequencer: garbage, a takeover naming another sequencer, one sent by
// someone other than its author, and one whose history the sender does
// not serve (or serves forged).
func TestAdoptRefusesStrangers(t *testing.T) {
	n := NewLoopback(t)
	seq := n.AddSequencer()
	key := NewKey(t)
	h := n.NewHost(key)
	signer, err := netproto.SigningKey(key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := docsync.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	id.Sign = signer // the stranger's host key signs its envelopes
	_, oldKey, _ := ed25519.GenerateKey(nil)
	doc := docsync.DocID{0xad, 1}
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: oldKey.Public().(ed25519.PublicKey), Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sequencer.NewReference(doc, oldKey).Drive(r); err != nil {
		t.Fatal(err)
	}
	takeover := func(to ed25519.PublicKey) []byte {
		t.Helper()
		if err := r.Takeover(to, ""); err != nil {
			t.Fatal(err)
		}
		env := r.Ready().Submit[0]
		r.Advance()
		b, err := (&netproto.AdoptRequest{Takeover: env}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h.Peerstore().AddAddrs(seq.H.ID(), seq.H.Addrs(), time.Hour)
	ask := func(what string, b []byte) {
		t.Helper()
		if _, err := netproto.Request(ctx, h, seq.H.ID(), netproto.AdoptProtocol, b, docsync.MaxEntryBytes); err == nil {
			t.Fatalf("%s: adopted", what)
		} else {
			t.Logf("%s: %v", what, netproto.ShortError(err))
		}
	}
	ask("garbage", []byte{'T', 1, 2, 3})
	_, other, _ := ed25519.GenerateKey(nil)
	ask("a takeover naming another sequencer", takeover(other.Public().(ed25519.PublicKey)))
	// The stranger serves no history: the fetch fails.
	ask("a takeover whose history is not served", takeover(seq.Svc.PublicKey()))
	// A clone that is not its author sends it.
	c := n.AddClone()
	if _, err := netproto.Request(ctx, c.H, seq.H.ID(), netproto.AdoptProtocol, takeover(seq.Svc.PublicKey()), docsync.MaxEntryBytes); err == nil {
		t.Fatal("a takeover sent by another peer than its author was adopted")
	}
	if docs := seq.Svc.Docs(); len(docs) != 0 {
		t.Fatalf("the sequencer holds %d documents", len(docs))
	}
	res, err := seq.DS.Query(ctx, query.Query{Prefix: "/d", KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := res.Rest()
	if len(rest) != 0 {
		t.Fatalf("%d keys left on the sequencer, first %s", len(rest), rest[0].Key)
	}
}
