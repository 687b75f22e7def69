package docsync_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/clone2clone/c2c/docsync"
)

// decodeErr fails unless err is one of the decoders' documented errors.
func decodeErr(t *testing.T, err error) {
	if !errors.Is(err, docsync.ErrMalformed) && !errors.Is(err, docsync.ErrTooLarge) {
		t.Fatalf("undocumented decode error: %v", err)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := docsync.DecodeEnvelope(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		b2, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := docsync.DecodeEnvelope(b2)
		if err != nil || e2.Digest() != e.Digest() {
			t.Fatalf("re-decode: %v", err)
		}
		_ = e.VerifyAuthor()
	})
}

func FuzzDecodeEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := docsync.DecodeEntry(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		b2, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := docsync.DecodeEntry(b2)
		if err != nil || e2.Envelope.Digest() != e.Envelope.Digest() || e2.Head.ChainHash != e.Head.ChainHash {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := docsync.DecodeHead(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		b2, _ := h.Marshal()
		if h2, err := docsync.DecodeHead(b2); err != nil || h2.ChainHash != h.ChainHash || h2.Seq != h.Seq {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeForkProof(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := docsync.DecodeForkProof(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		if err := p.Verify(make([]byte, 32)); err == nil {
			t.Fatal("proof verified under the zero key")
		}
	})
}

func FuzzDecodeMemberOp(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := docsync.DecodeMemberOp(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		b2, err := op.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := docsync.DecodeMemberOp(b2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := docsync.DecodeSnapshot(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		b2, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if s2, err := docsync.DecodeSnapshot(b2); err != nil || s2.Text != s.Text {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodePending(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := docsync.DecodePending(b)
		if err != nil {
			decodeErr(t, err)
			return
		}
		b2, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := docsync.DecodePending(b2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// TestWriteFuzzCorpus regenerates the committed seed corpus from a scripted
// document when C2C_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("C2C_WRITE_CORPUS") != "1" {
		t.Skip("set C2C_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	w, a, b, c := threeMembers(t)
	_ = w.insert(a, 0, "seed é𝄞")
	_ = w.insert(b, 0, "x")
	w.settle()
	_ = a.r.RemoveMember(c.r.ID())
	w.drain(a)
	w.settle()
	seeds := map[string][][]byte{}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(name string, b []byte) { seeds[name] = append(seeds[name], b) }
	for _, e := range a.entries {
		put("FuzzDecodeEntry", must(e.Marshal()))
		put("FuzzDecodeEnvelope", must(e.Envelope.Marshal()))
		put("FuzzDecodeHead", must(e.Head.Marshal()))
		if e.Envelope.Kind == docsync.KindMember {
			seeds["FuzzDecodeMemberOp"] = append(seeds["FuzzDecodeMemberOp"], e.Envelope.Body)
		}
	}
	h1, h2 := a.entries[1].Head, a.entries[2].Head
	h2.Seq = h1.Seq
	put("FuzzDecodeForkProof", must((&docsync.ForkProof{A: h1, B: h2}).Marshal()))
	_ = w.insert(a, 0, "p")
	_ = w.insert(a, 0, "q")
	put("FuzzDecodePending", must(a.pending.Marshal()))
	s, err := a.r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	put("FuzzDecodeSnapshot", must(s.Marshal()))
	for name, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range list {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
