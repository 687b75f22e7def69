package bundle

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/clone2clone/c2c/internal/fuzzseed"
)

func sample() *Bundle {
	return &Bundle{
		Files:   []File{{Name: "owner.cert", Data: []byte("cert")}, {Name: "identity.key", Data: []byte("key")}},
		Entries: []Entry{{Key: "/docs/a", Value: []byte("1")}, {Key: "/docs/b", Value: nil}},
	}
}

func encode(t testing.TB, b *Bundle) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	out, err := Decode(bytes.NewReader(encode(t, in)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Files) != 2 || string(out.File("owner.cert")) != "cert" || string(out.File("identity.key")) != "key" {
		t.Fatalf("files: %+v", out.Files)
	}
	if len(out.Entries) != 2 || out.Entries[0].Key != "/docs/a" || string(out.Entries[0].Value) != "1" || len(out.Entries[1].Value) != 0 {
		t.Fatalf("entries: %+v", out.Entries)
	}
}

// The exact bytes of a small bundle, so the format cannot drift unseen.
func TestExactBytes(t *testing.T) {
	got := encode(t, &Bundle{Files: []File{{Name: "a", Data: []byte("x")}}, Entries: []Entry{{Key: "/k", Value: []byte("v")}}})
	head := Magic + "\x04f\x01ax" + "\x05k\x02/kv"
	if !bytes.HasPrefix(got, []byte(head)) {
		t.Fatalf("bundle starts %q, want %q", got[:min(len(got), len(head))], head)
	}
	end := got[len(head):]
	if len(end) != 1+3+32 || end[0] != 35 || end[1] != 'e' || end[2] != 1 || end[3] != 1 {
		t.Fatalf("end frame %x", end)
	}
}

func TestRefusals(t *testing.T) {
	good := encode(t, sample())
	flip := bytes.Clone(good)
	flip[len(Magic)+5] ^= 1 // inside the first file's contents
	big := encode(t, &Bundle{Files: []File{{Name: "f", Data: make([]byte, 100)}}})
	dup := encode(t, &Bundle{Entries: []Entry{{Key: "/a"}, {Key: "/a"}}})
	slash := encode(t, &Bundle{Files: []File{{Name: "../x"}}})
	relKey := encode(t, &Bundle{Entries: []Entry{{Key: "a"}}})
	cases := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"not a bundle", []byte("hello"), DefaultLimits(), ErrMalformed},
		{"truncated", good[:len(good)-10], DefaultLimits(), ErrTruncated},
		{"no end frame", good[:len(Magic)+5+1], DefaultLimits(), ErrTruncated},
		{"altered", flip, DefaultLimits(), ErrChecksum},
		{"trailing bytes", append(bytes.Clone(good), 0), DefaultLimits(), ErrMalformed},
		{"frame over its cap", big, Limits{MaxBytes: 1 << 20, MaxFrame: 50, MaxFiles: 4, MaxEntries: 4}, ErrTooLarge},
		{"over the total", good, Limits{MaxBytes: 20, MaxFrame: 1 << 10, MaxFiles: 4, MaxEntries: 4}, ErrTooLarge},
		{"too many files", good, Limits{MaxBytes: 1 << 20, MaxFrame: 1 << 10, MaxFiles: 1, MaxEntries: 4}, ErrTooLarge},
		{"too many entries", good, Limits{MaxBytes: 1 << 20, MaxFrame: 1 << 10, MaxFiles: 4, MaxEntries: 1}, ErrTooLarge},
		{"duplicate key", dup, DefaultLimits(), ErrMalformed},
		{"file name with a slash", slash, DefaultLimits(), ErrMalformed},
		{"relative key", relKey, DefaultLimits(), ErrMalformed},
		// A frame announcing 1 GiB, then nothing: refused by its cap
		// before anything is allocated for it.
		{"announced length", append([]byte(Magic), 0x80, 0x80, 0x80, 0x80, 0x04), DefaultLimits(), ErrTooLarge},
	}
	for _, c := range cases {
		if _, err := Decode(bytes.NewReader(c.in), c.lim); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func fuzzSeeds(t testing.TB) [][]byte {
	good := encode(t, sample())
	return [][]byte{good, good[:len(good)/2], encode(t, &Bundle{}), []byte(Magic + "\x01e")}
}

// FuzzDecode: no input panics Decode, and whatever it accepts encodes
// back to a bundle that decodes the same.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	lim := Limits{MaxBytes: 1 << 20, MaxFrame: 1 << 16, MaxFiles: 16, MaxEntries: 1 << 10}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Decode(bytes.NewReader(in), lim)
		if err != nil {
			return
		}
		again, err := Decode(bytes.NewReader(encode(t, b)), lim)
		if err != nil || len(again.Files) != len(b.Files) || len(again.Entries) != len(b.Entries) {
			t.Fatalf("re-encoded bundle: %v", err)
		}
	})
}

// TestWriteCorpus regenerates testdata/fuzz with C2C_WRITE_CORPUS=1.
func TestWriteCorpus(t *testing.T) {
	if os.Getenv("C2C_WRITE_CORPUS") == "" {
		t.Skip("set C2C_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	fuzzseed.Write(t, map[string][][]byte{"FuzzDecode": fuzzSeeds(t)})
}
