package replication_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"testing"

	"github.com/clone2clone/c2c/internal/fuzzseed"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

// decodeErr fails unless err is one of the decoders' documented errors.
func decodeErr(t *testing.T, err error) {
	for _, e := range []error{replication.ErrTruncated, replication.ErrTooLarge, replication.ErrMalformed, replication.ErrNonCanonical} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("undocumented decode error: %v", err)
}

func FuzzDecodeBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := replication.DecodeBatch(p)
		if err != nil {
			decodeErr(t, err)
			return
		}
		if !bytes.Equal(replication.ReencodeBatch(b), p) {
			t.Fatalf("decoded batch re-encodes differently")
		}
		_ = b.VerifySig(deviceKey.Public().(ed25519.PublicKey))
		m := newMirror(t)
		_ = m.HandleBatch(t0, p) // checks after decoding must not panic either
		m.Tick(t0 + 1<<40)
	})
}

func FuzzDecodeOffer(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		o, err := replication.DecodeOffer(p)
		if err != nil {
			decodeErr(t, err)
			return
		}
		if !bytes.Equal(replication.ReencodeOffer(o), p) {
			t.Fatalf("decoded offer re-encodes differently")
		}
		for _, m := range o.Apps {
			_ = m.Root()
		}
	})
}

func FuzzDecodeTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		tm, err := replication.DecodeTemplate(p)
		if err != nil {
			decodeErr(t, err)
			return
		}
		if !bytes.Equal(replication.ReencodeTemplate(tm), p) {
			t.Fatalf("decoded template re-encodes differently")
		}
		_ = tm.StateHash()
	})
}

// TestWriteFuzzCorpus regenerates the committed seed corpus when
// C2C_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("C2C_WRITE_CORPUS") != "1" {
		t.Skip("set C2C_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	seeds := map[string][][]byte{}
	d := newDevice(t, devOpts{})
	seeds["FuzzDecodeBatch"] = batches(t, d, 2, "notes")
	if _, err := d.Network(t0+5000, replication.NetInput{NetSeq: 1, App: "inbox", Payload: notes.Put("x", make([]byte, 400))}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Input(t0+5001, "inbox", notes.Put("big", make([]byte, 700))); err != nil {
		t.Fatal(err)
	}
	if err := d.HandleResync(t0+5002, replication.ResyncRequest{Number: 2}); err != nil {
		t.Fatal(err)
	}
	for _, m := range d.Ready().Send {
		switch m.Kind {
		case replication.MsgBatch:
			seeds["FuzzDecodeBatch"] = append(seeds["FuzzDecodeBatch"], m.Data)
		case replication.MsgOffer:
			seeds["FuzzDecodeOffer"] = append(seeds["FuzzDecodeOffer"], m.Data)
		}
	}
	set := mustSet(t, notesRegistry(t))
	tm, err := replication.BuildTemplate("phone-x1", 1, set, replication.NewMemStore(), factoryKey)
	if err != nil {
		t.Fatal(err)
	}
	seeds["FuzzDecodeTemplate"] = [][]byte{tm.Marshal()}
	fuzzseed.Write(t, seeds)
}
