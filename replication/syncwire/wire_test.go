package syncwire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/replication"
)

func samples() []*Message {
	var h replication.Hash
	h[0], h[31] = 0xaa, 0x55
	return []*Message{
		{Kind: KindHello, Hello: &Hello{User: []byte{1, 2}, Device: "phone", Epoch: 1, SyncMs: 1000, MaxDelay: 100,
			Apps: []string{"files", "notes"}, Number: 3, NextSeq: 300, LastNet: 7}},
		{Kind: KindWelcome, Welcome: &Welcome{Taken: 3, Relayed: 9, Replayed: 2, StateHash: h}},
		{Kind: KindRefuse, Code: RefuseParams, Reason: "t_syn_int differs"},
		{Kind: KindBatch, Data: []byte{0xb1, 1}},
		{Kind: KindChunk, Data: []byte("chunk")},
		{Kind: KindOffer, Data: []byte{0xc1}},
		{Kind: KindNet, Net: &Net{NetSeq: 9, App: "inbox", Payload: []byte("hi")}},
		{Kind: KindAck, Number: 300},
		{Kind: KindResync, Number: 4, Cause: CauseGap},
		{Kind: KindReplayed, Replayed: &Replayed{Number: 3, Match: true, LagMs: 1100, StateHash: h}},
		{Kind: KindWant, Want: []replication.Hash{h, h}},
		{Kind: KindDone, Number: 5},
	}
}

// TestExactBytes pins the encoding of a few messages.
func TestExactBytes(t *testing.T) {
	for _, c := range []struct {
		m    *Message
		want string
	}{
		{samples()[0], "01" + "020102" + "0570686f6e65" + "01" + "e807" + "64" + "02" + "0566696c6573" + "056e6f746573" + "03" + "ac02" + "07"},
		{samples()[2], "03" + "04" + "11" + hex.EncodeToString([]byte("t_syn_int differs"))},
		{samples()[6], "07" + "09" + "05696e626f78" + "6869"},
		{samples()[7], "08" + "ac02"},
		{samples()[8], "0a" + "04" + "02"},
	} {
		got, err := Encode(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != c.want {
			t.Errorf("kind %d: got %x, want %s", c.m.Kind, got, c.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	for _, m := range samples() {
		if _, err := WriteFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for _, want := range samples() {
		got, _, err := ReadFrame(r, MaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

// TestRefused: each malformed body fails with its own error, never a panic.
func TestRefused(t *testing.T) {
	hello, _ := Encode(samples()[0])
	unsorted := *samples()[0].Hello
	unsorted.Apps = []string{"notes", "files"}
	bad, _ := Encode(&Message{Kind: KindHello, Hello: &unsorted})
	for _, c := range []struct {
		name string
		body []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"unknown kind", []byte{0x7f}, ErrMalformed},
		{"truncated hello", hello[:len(hello)-1], ErrTruncated},
		{"trailing", append(append([]byte(nil), hello...), 0), ErrMalformed},
		{"hello too large", append([]byte{1}, make([]byte, HelloFrame)...), ErrTooLarge},
		{"unsorted apps", bad, ErrMalformed},
		{"non-minimal varint", []byte{byte(KindAck), 0x80, 0x00}, ErrMalformed},
		{"want count lies", []byte{byte(KindWant), 0x02}, ErrMalformed},
		{"want cap", []byte{byte(KindWant), 0x81, 0x40}, ErrTooLarge},
		{"empty chunk", []byte{byte(KindChunk)}, ErrTooLarge},
		{"refuse code", []byte{byte(KindRefuse), 0, 0}, ErrMalformed},
		{"resync cause", []byte{byte(KindResync), 1, 9}, ErrMalformed},
	} {
		if _, err := Decode(c.body); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

// TestFrameCap: an announced length over the cap fails before any body is read.
func TestFrameCap(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("\xff\xff\xff\x7f"))
	if _, _, err := ReadFrame(r, HelloFrame); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("re-encoding differs:\n%x\n%x", body, again)
		}
	})
}
