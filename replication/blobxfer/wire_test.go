package blobxfer_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/ipfs/go-cid"
)

type cidT = cid.Cid

func TestWireExactBytes(t *testing.T) {
	ref, _ := boxostore.NewMem().Add([]byte("hi"))
	for _, tc := range []struct {
		m    blobxfer.Msg
		want string
	}{
		{blobxfer.Msg{Kind: blobxfer.KindMissing}, "4e"},
		{blobxfer.Msg{Kind: blobxfer.KindBlock, Block: []byte{1, 2}}, "420102"},
		{blobxfer.Msg{Kind: blobxfer.KindDone, Code: blobxfer.CodeCorrupt, Reason: "x"}, "44030178"},
		{blobxfer.Msg{Kind: blobxfer.KindWant, Want: []cid.Cid{ref.CID}}, "570124" + hex.EncodeToString(ref.CID.Bytes())},
	} {
		got := tc.m.Append(nil)
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%q: %x, want %s", tc.m.Kind, got, tc.want)
		}
		back, err := blobxfer.Decode(got)
		if err != nil || !bytes.Equal(back.Append(nil), got) {
			t.Errorf("%q: round trip %v", tc.m.Kind, err)
		}
	}
	hello := (&blobxfer.Msg{Kind: blobxfer.KindHello, Mode: blobxfer.ModeGet, Ref: ref, Cert: []byte("c")}).Append(nil)
	back, err := blobxfer.Decode(hello)
	if err != nil || back.Ref != ref || string(back.Cert) != "c" {
		t.Fatalf("hello: %+v %v", back, err)
	}
	for name, bad := range map[string][]byte{
		"empty":      nil,
		"kind":       {'Z'},
		"mode":       append([]byte{'H', 'x'}, hello[2:]...),
		"empty want": {'W', 0},
		"long want":  {'W', 0x81, 0x02},
		"trailing":   {'N', 0},
		"raw CID":    {'W', 1, 2, 0x01, 0x55},
	} {
		if _, err := blobxfer.Decode(bad); !errors.Is(err, blobxfer.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	ref, _ := boxostore.NewMem().Add([]byte("hello"))
	for _, m := range []blobxfer.Msg{
		{Kind: blobxfer.KindHello, Mode: blobxfer.ModePut, Ref: ref},
		{Kind: blobxfer.KindWant, Want: []cid.Cid{ref.CID, ref.CID}},
		{Kind: blobxfer.KindBlock, Block: []byte("blk")},
		{Kind: blobxfer.KindMissing},
		{Kind: blobxfer.KindDone, Code: 1, Reason: "no"},
	} {
		f.Add(m.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := blobxfer.Decode(b)
		if err != nil {
			return
		}
		again, err := blobxfer.Decode(m.Append(nil))
		if err != nil || !bytes.Equal(again.Append(nil), m.Append(nil)) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}
