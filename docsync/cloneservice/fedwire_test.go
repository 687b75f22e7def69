package cloneservice

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"google.golang.org/protobuf/encoding/protowire"
)

// A fed entry's bytes are stored as they came only when they are its
// canonical encoding and the entry persisted is still the one they
// decoded to; otherwise the entry is encoded again.
func TestFedBytesStoredAsTheyCame(t *testing.T) {
	seqPub, seqPriv, _ := ed25519.GenerateKey(nil)
	authPub, authPriv, _ := ed25519.GenerateKey(nil)
	var doc docsync.DocID
	doc[0] = 7
	env := docsync.Envelope{Doc: doc, Counter: 1, Kind: docsync.KindMember, Body: []byte("member op")}
	copy(env.Author[:], authPub)
	env.Sign(authPriv)
	e := &docsync.Entry{Head: docsync.Head{Doc: doc, Seq: 2}, Envelope: env}
	e.Head.ChainHash[0] = 9
	e.Head.Sign(seqPriv)
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	f, err := verifyFed(nil, doc, seqPub, b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.wire.b, b) {
		t.Fatal("canonical bytes not kept")
	}
	d := &docState{fedWire: map[*docsync.Entry]fedBytes{f.v.Entry(): f.wire}}
	if got, err := entryBytes(d, f.v.Entry()); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("entryBytes: %v, %v", got, err)
	}
	// The same entry changed after it came: encoded again, as it is now.
	f.v.Entry().Envelope.Body = []byte("member oq")
	got, err := entryBytes(d, f.v.Entry())
	if err != nil || bytes.Equal(got, b) {
		t.Fatalf("a changed entry stored as it came: %v", err)
	}
	if again, err := docsync.DecodeEntry(got); err != nil || string(again.Envelope.Body) != "member oq" {
		t.Fatalf("re-encoded: %v, %v", again, err)
	}

	// Padded by the sequencer (an unknown field): decodes to the same
	// entry, but is not stored as it came.
	padded := protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), b...), 99, protowire.BytesType), make([]byte, 1000))
	f, err = verifyFed(nil, doc, seqPub, padded)
	if err != nil {
		t.Fatal(err)
	}
	if f.wire.b != nil {
		t.Fatal("padded bytes kept to be stored")
	}
}
