package netproto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	ma "github.com/multiformats/go-multiaddr"
)

// FuzzReadFrames reads frames and entry streams from arbitrary bytes: no
// panic, no frame over its cap, and what WriteFrame wrote reads back.
func FuzzReadFrames(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{3, 'a', 'b', 'c', 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x80})
	f.Add([]byte{5, 1, 2})
	f.Add(append([]byte{compactedFrameSize}, (&CompactedError{FirstKept: 2, Snapshot: 9}).frame()...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			fr, err := ReadFrame(r, 64)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(fr) > 64 {
				t.Fatalf("frame of %d bytes over the cap", len(fr))
			}
		}
		_, _ = ReadEntries(bufio.NewReader(bytes.NewReader(b)), 4, 1<<20)
		_, _ = ReadReply(bufio.NewReader(bytes.NewReader(b)), 64)
		if len(b) <= MaxFrame {
			var buf bytes.Buffer
			if err := WriteFrame(&buf, b); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFrame(bufio.NewReader(&buf), MaxFrame)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

// FuzzDecodeMessages decodes history requests and invitations: no panic, a
// history request re-encodes to the same bytes, and an accepted invitation
// re-encodes to bytes that decode to an equal invitation.
func FuzzDecodeMessages(f *testing.F) {
	var doc docsync.DocID
	doc[0] = 7
	f.Add(HistoryRequest{Doc: doc, From: 1, To: 9}.Marshal())
	pub, _, _ := ed25519.GenerateKey(nil)
	inv := &Invitation{Doc: doc, Sequencer: pub, Role: docsync.RoleWriter, Seq: 3,
		Addrs: []ma.Multiaddr{ma.StringCast("/ip4/1.2.3.4/udp/8000/quic-v1")}}
	b, _ := inv.Marshal()
	f.Add(b)
	full, _, _ := invitedLog(f)
	b, _ = full.Marshal()
	f.Add(b)
	moved, _, _ := movedInvitation(f) // version 3, with a key schedule
	b, _ = moved.Marshal()
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeHistoryRequest(b); err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Fatal("history request does not round-trip")
		}
		inv, err := DecodeInvitation(b)
		if err != nil {
			return
		}
		_ = inv.Verify(docsync.MemberID{}, docsync.MemberID{}) // the evidence checks, the key schedule's included
		out, err := inv.Marshal()
		if err != nil {
			t.Fatalf("accepted invitation does not encode: %v", err)
		}
		again, err := DecodeInvitation(out)
		if err != nil {
			t.Fatalf("re-encoded invitation does not decode: %v", err)
		}
		if out2, _ := again.Marshal(); !bytes.Equal(out, out2) {
			t.Fatal("invitation encoding is not stable")
		}
	})
}
