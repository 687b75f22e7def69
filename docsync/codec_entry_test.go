package docsync

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// decodeEntryProto is DecodeEntry as it was, through proto.Unmarshal: the
// reference the hand decoder is held to.
func decodeEntryProto(b []byte) (*Entry, error) {
	var w wire.Entry
	if err := unmarshal(b, MaxEntryBytes, &w, "entry"); err != nil {
		return nil, err
	}
	h, err := headFields(w.Doc, w.ChainHash, w.SeqSig, w.Seq)
	if err != nil {
		return nil, err
	}
	env, err := envelopeFromWire(w.Envelope)
	if err != nil {
		return nil, err
	}
	return &Entry{Head: h, Envelope: *env}, nil
}

// FuzzDecodeEntryMatchesProto: on any bytes, DecodeEntry and the proto
// decoder both refuse (with the same kind of error) or both give the same
// entry.
func FuzzDecodeEntryMatchesProto(f *testing.F) {
	for _, b := range entrySeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := append([]byte(nil), in...) // changed below
		got, err := DecodeEntry(b)
		want, werr := decodeEntryProto(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("DecodeEntry: %v; proto: %v", err, werr)
		}
		if err != nil {
			for _, kind := range []error{ErrMalformed, ErrTooLarge} {
				if errors.Is(err, kind) != errors.Is(werr, kind) {
					t.Fatalf("DecodeEntry: %v; proto: %v", err, werr)
				}
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeEntry %+v\nproto       %+v", got, want)
		}
		if n, pn := got.WireSize(), proto.Size(got.toWire()); n != pn {
			t.Fatalf("WireSize %d, proto.Size %d", n, pn)
		}
		if got.Fingerprint() != want.Fingerprint() {
			t.Fatal("equal entries, different fingerprints")
		}
		// The entry's slices are its own: appending to one changes no other.
		body := append(got.Envelope.Body, 0xee)
		if !reflect.DeepEqual(got.Envelope.Sig, want.Envelope.Sig) || !reflect.DeepEqual(got.Head.Sig, want.Head.Sig) {
			t.Fatalf("an append to the body (%d bytes) reached the signatures", len(body))
		}
		b[0] ^= 0xff // nor is it b
		if !reflect.DeepEqual(got, want) {
			t.Fatal("the decoded entry shares the input's bytes")
		}
		owning, err := DecodeEntryOwning(append([]byte(nil), in...))
		if err != nil || !reflect.DeepEqual(owning, want) {
			t.Fatalf("DecodeEntryOwning: %+v, %v", owning, err)
		}
	})
}

// entrySeeds are FuzzDecodeEntry's corpus (real entries) and hand-made
// edge cases of the wire: a field twice, an envelope in two parts, a
// known field number of another wire type, unknown fields and groups.
func entrySeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEntry")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
					seeds = append(seeds, []byte(s))
				}
			}
		}
	}
	if len(seeds) == 0 {
		tb.Fatal("no FuzzDecodeEntry corpus")
	}
	real := seeds[0]
	var env []byte
	for rest := real; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if num == 4 {
			env, _ = protowire.ConsumeBytes(rest[n:])
		}
		rest = rest[n+m:]
	}
	add := func(b []byte) { seeds = append(seeds, b) }
	// The envelope split in two occurrences (merged), and given twice.
	half := len(env) / 2
	for half > 0 {
		if _, _, n := protowire.ConsumeTag(env[half:]); n > 0 && fieldsParse(env[:half]) && fieldsParse(env[half:]) {
			break
		}
		half--
	}
	split := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), env[:half])
	split = protowire.AppendBytes(protowire.AppendTag(split, 4, protowire.BytesType), env[half:])
	add(append(append([]byte(nil), real...), split...))
	// seq given again, as a varint and as fixed64 (another wire type: unknown).
	add(protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), real...), 2, protowire.VarintType), 99))
	add(protowire.AppendFixed64(protowire.AppendTag(append([]byte(nil), real...), 2, protowire.Fixed64Type), 99))
	// An unknown field, a group, an end group alone, field number 0.
	add(protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), real...), 77, protowire.BytesType), []byte("x")))
	g := protowire.AppendTag(append([]byte(nil), real...), 9, protowire.StartGroupType)
	g = protowire.AppendVarint(protowire.AppendTag(g, 1, protowire.VarintType), 5)
	add(protowire.AppendTag(g, 9, protowire.EndGroupType))
	add(protowire.AppendTag(append([]byte(nil), real...), 9, protowire.EndGroupType))
	add(append(append([]byte(nil), real...), 0x00, 0x01))
	// The envelope's kind beyond 32 bits: proto keeps the low ones.
	k := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), env...), 7, protowire.VarintType), 1<<32|1)
	add(protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), real...), 4, protowire.BytesType), k))
	return seeds
}

func fieldsParse(b []byte) bool {
	var f envelopeFields
	return f.parse(b) == nil
}

// The seeds decode alike (the fuzz target's seed run), and the edge cases
// decode at all where proto does.
func TestDecodeEntryMatchesProtoOnSeeds(t *testing.T) {
	ok := 0
	for i, b := range entrySeeds(t) {
		got, err := DecodeEntry(b)
		want, werr := decodeEntryProto(b)
		if (err == nil) != (werr == nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("seed %d: DecodeEntry %v, %v; proto %v, %v", i, got, err, want, werr)
		}
		if err == nil {
			ok++
		}
	}
	if ok < 8 {
		t.Errorf("only %d seeds decode", ok)
	}
}

// A fingerprint changes with every field of the entry.
func TestFingerprintCoversEveryField(t *testing.T) {
	base := func() *Entry {
		e := &Entry{Head: Head{Seq: 3, Sig: make([]byte, 64)},
			Envelope: Envelope{Counter: 1, Parent: 2, Epoch: 4, Kind: KindEdit, Nonce: make([]byte, NonceSize), Body: []byte("body"), Sig: make([]byte, 64)}}
		return e
	}
	fp := base().Fingerprint()
	for name, change := range map[string]func(*Entry){
		"head doc": func(e *Entry) { e.Head.Doc[0] = 1 }, "seq": func(e *Entry) { e.Head.Seq++ },
		"chain hash": func(e *Entry) { e.Head.ChainHash[31] = 1 }, "head sig": func(e *Entry) { e.Head.Sig[0] = 1 },
		"envelope doc": func(e *Entry) { e.Envelope.Doc[0] = 1 }, "author": func(e *Entry) { e.Envelope.Author[0] = 1 },
		"counter": func(e *Entry) { e.Envelope.Counter++ }, "parent": func(e *Entry) { e.Envelope.Parent++ },
		"parent hash": func(e *Entry) { e.Envelope.ParentHash[0] = 1 }, "epoch": func(e *Entry) { e.Envelope.Epoch++ },
		"kind": func(e *Entry) { e.Envelope.Kind = KindMember }, "nonce": func(e *Entry) { e.Envelope.Nonce[0] = 1 },
		"body": func(e *Entry) { e.Envelope.Body = []byte("bodz") }, "sig": func(e *Entry) { e.Envelope.Sig[63] = 1 },
	} {
		e := base()
		change(e)
		if e.Fingerprint() == fp {
			t.Errorf("a changed %s keeps the fingerprint", name)
		}
	}
}
