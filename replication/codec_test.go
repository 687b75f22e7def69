package replication_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

// fields joins annotated hex: each row is hex digits (spaces allowed), then
// "|" and a comment.
func fields(t testing.TB, rows ...string) []byte {
	var b []byte
	for _, r := range rows {
		h, _, _ := strings.Cut(r, "|")
		x, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err != nil {
			t.Fatalf("row %q: %v", r, err)
		}
		b = append(b, x...)
	}
	return b
}

// TestBatchExactBytes pins the batch encoding: two keystrokes, a 300-byte
// put that travels as a chunk reference, and a network input consumed
// between them. A keystroke costs 3 bytes beside its 5-byte payload.
func TestBatchExactBytes(t *testing.T) {
	d := newDevice(t, devOpts{})
	must := func(_ []replication.Output, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Input(t0+5, "notes", notes.Insert("n", 0, []byte("h"))))
	must(d.Input(t0+130, "notes", notes.Insert("n", 1, []byte("i"))))
	must(d.Network(t0+200, replication.NetInput{NetSeq: 3, App: "inbox", Payload: notes.Put("m", []byte("yo"))}))
	must(d.Input(t0+999, "inbox", notes.Put("big", make([]byte, 300))))
	d.Tick(t0 + 1000)
	b := d.Ready().Batches[0]
	dev := deviceID(deviceKey)
	exact := fields(t,
		"b1                  | format",
		hex.EncodeToString(dev[:])+"| device",
		"01 01               | epoch 1, number 1",
		"80d095ffbc31        | start 1700000000000 ms",
		"e807                | span 1000 ms",
		"01 03 01            | first seq 1, 3 user inputs, 1 network input",
		"01 05 0a 69016e0068 | app 1 (notes), +5 ms, 5 bytes inline: insert 'h' at 0 of 'n'",
		"01 7d 0a 69016e0169 | app 1, +125 ms, insert 'i' at 1",
		"00 e506 e304        | app 0 (inbox), +869 ms, a 305-byte payload by reference:",
		"072b10ac000a674bdfc68fbe83d0040720b53ffccea9ea1925a71b5a0d25c66e | its SHA-256",
		"03 02 c801          | net seq 3, after 2 user inputs, +200 ms",
		"d2d29d15bb633259cc9e4b8e807f5a8c4720268debea5b58de015457c6a46c95 | state hash",
		"0b830b420a7a7b46f7fae95fd2622cb33179b99b6cfa7fbcdab3982c6f2429ed | chain hash",
		"0d7d971fe7458bb79982e73d8bfeb935b9f2c5ff76bea40aa415f0a84f762618 | signature",
		"555db8b3415aa85b2e0b69a11a41e1e0fe0b56aac6c9dea91d7ef18ac34b7d01 |",
	)
	if got := b.Marshal(); !bytes.Equal(got, exact) {
		t.Fatalf("batch encoding\n got %x\nwant %x", got, exact)
	}
	got, err := replication.DecodeBatch(exact)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 1 || got.Start != t0 || got.End != t0+1000 || len(got.User) != 3 || got.User[2].Size != 305 ||
		got.Net[0] != (replication.NetUse{NetSeq: 3, After: 2, Time: t0 + 200}) || got.StateHash != b.StateHash ||
		!bytes.Equal(got.User[1].Payload, notes.Insert("n", 1, []byte("i"))) {
		t.Fatalf("decoded %+v", got)
	}
	if err := got.VerifySig(deviceKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if !got.Extends(replication.GenesisChain(dev, 1)) {
		t.Fatal("chain does not extend the genesis")
	}
}

// header builds a batch header: device zero, then the given varints as hex.
func header(rest ...string) []string {
	return append([]string{"b1", strings.Repeat("00", 32)}, rest...)
}

var trailer = strings.Repeat("00", 32+32+64)

// TestDecodeBatchErrors: crafted malformed batches, each with the error it
// must get.
func TestDecodeBatchErrors(t *testing.T) {
	cases := []struct {
		name string
		rows []string
		want error
	}{
		{"empty", nil, replication.ErrTruncated},
		{"offer format byte", []string{"c1"}, replication.ErrMalformed},
		{"number 0", header("01 00 00 01 01 00 00", trailer), replication.ErrMalformed},
		{"span 0", header("01 01 00 00 01 00 00", trailer), replication.ErrMalformed},
		{"first seq 0", header("01 01 00 01 00 00 00", trailer), replication.ErrMalformed},
		{"non-minimal epoch", header("8100 01 00 01 01 00 00", trailer), replication.ErrNonCanonical},
		{"overflowing epoch", header("ffffffffffffffffff7f 01 00 01 01 00 00", trailer), replication.ErrMalformed},
		{"65537 user inputs", header("01 01 00 01 01 818004 00", trailer), replication.ErrTooLarge},
		{"inputs the bytes cannot hold", header("01 01 00 01 01 e807 00", trailer), replication.ErrTruncated},
		{"input after the window", header("01 01 00 0a 01 01 00", "00 0a 00", trailer), replication.ErrMalformed},
		{"app index over the cap", header("01 01 00 0a 01 01 00", "40 00 00", trailer), replication.ErrMalformed},
		{"inline payload over the cap", header("01 01 00 0a 01 01 00", "00 00 8210", trailer), replication.ErrTooLarge},
		{"zero payload ref", header("01 01 00 0a 01 01 00", "00 00 03", trailer), replication.ErrMalformed},
		{"ref of 0 bytes", header("01 01 00 0a 01 01 00", "00 00 01", trailer), replication.ErrTooLarge},
		{"net seq delta 0", header("01 01 00 0a 01 00 01", "00 00 00", trailer), replication.ErrMalformed},
		{"net after missing user inputs", header("01 01 00 0a 01 00 01", "01 01 00", trailer), replication.ErrMalformed},
		{"trailing byte", header("01 01 00 0a 01 00 00", trailer, "00"), replication.ErrMalformed},
		{"no signature", header("01 01 00 0a 01 00 00", strings.Repeat("00", 64)), replication.ErrTruncated},
	}
	for _, c := range cases {
		_, err := replication.DecodeBatch(fields(t, c.rows...))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := replication.DecodeBatch(fields(t, header("01 01 00 0a 01 00 00", trailer)...)); err != nil {
		t.Fatalf("the well-formed empty batch: %v", err)
	}
}

// TestOfferExactBytes pins the offer encoding of a device with one note.
func TestOfferExactBytes(t *testing.T) {
	d := newDevice(t, devOpts{apps: []string{"notes"}})
	if _, err := d.Input(t0, "notes", notes.Put("a", []byte("b"))); err != nil {
		t.Fatal(err)
	}
	if err := d.HandleResync(t0+10, replication.ResyncRequest{Number: 1}); err != nil {
		t.Fatal(err)
	}
	send := d.Ready().Send
	offer := send[len(send)-1].Data
	o, err := replication.DecodeOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	dev := deviceID(deviceKey)
	leaves := ""
	for _, h := range o.Apps[0] {
		leaves += hex.EncodeToString(h[:])
	}
	root := o.CauseRoots[0]
	want := fields(t,
		"c1                  | format",
		hex.EncodeToString(dev[:])+"| device",
		"01 01               | epoch 1, last batch 1 (closed by the freeze)",
		hex.EncodeToString(o.Chain[:])+"| chain through batch 1",
		"02 00               | next seq 2, no network input consumed",
		hex.EncodeToString(o.StateHash[:])+"| state hash",
		"01 40               | 1 app, 64 leaves:",
		leaves+"| the notes app's bucket hashes",
		"01 01               | cause batch 1, 1 root:",
		hex.EncodeToString(root[:])+"| notes' root after batch 1",
		hex.EncodeToString(o.Sig)+"| signature",
	)
	if !bytes.Equal(offer, want) {
		t.Fatalf("offer\n got %x\nwant %x", offer, want)
	}
	nonZero := 0
	for _, h := range o.Apps[0] {
		if !h.IsZero() {
			nonZero++
		}
	}
	if nonZero != 1 || o.Apps[0].Root() != root || o.StateHash != replication.StateHash([]string{"notes"}, []replication.Hash{root}) {
		t.Fatalf("offer manifest: %d chunks", nonZero)
	}
	if err := o.VerifySig(deviceKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
}
