package dht

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seedRecords are valid and broken encodings used as fuzz seeds.
func seedRecords(t testing.TB) [][]byte {
	alice := seededKey(t, 1)
	cert := mustMarshal(t, testCert(t, alice, "phone", 5, t0.Add(time.Hour)))
	idx := mustMarshal(t, testIndex(t, 2))
	return [][]byte{cert, idx, cert[:len(cert)/2], idx[:10], {}, []byte("garbage")}
}

// FuzzRecord: the record decoders and the validator never panic, anything
// that decodes re-encodes to the same bytes, and Select always picks a
// decodable value.
func FuzzRecord(f *testing.F) {
	for _, s := range seedRecords(f) {
		f.Add(s)
	}
	v := newValidator(fixedClock)
	good := mustMarshal(f, testCert(f, seededKey(f, 1), "phone", 5, t0.Add(time.Hour)))
	goodKey := CertKey(seededID(f, 1), "phone")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := UnmarshalOwnerCert(b); err == nil {
			again, err := c.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("cert does not re-encode canonically: %v", err)
			}
			_ = c.Verify(t0)
			_ = v.Validate(c.Key(), b)
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("cert decode error without a sentinel: %v", err)
		}
		if d, err := UnmarshalDeviceIndex(b); err == nil {
			again, err := d.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("index does not re-encode canonically: %v", err)
			}
			_ = v.Validate(d.Key(), b)
		}
		_ = v.Validate(goodKey, b)
		_ = v.Validate(string(b), good)
		i, err := v.Select(goodKey, [][]byte{b, good})
		if err != nil {
			t.Fatalf("Select with a good value: %v", err)
		}
		if _, derr := decodeRecord(goodKey, b); i == 0 && derr != nil {
			t.Fatalf("Select picked an undecodable value: %v", derr)
		}
		_ = v.CheckUpdate(goodKey, good, b)
		_ = v.CheckUpdate(goodKey, b, good)
	})
}

// FuzzWire: frame reading and the replica protocol messages never panic on
// garbage and respect their caps.
func FuzzWire(f *testing.F) {
	pair, _ := encodePair("/c2c/index/x", []byte("v"))
	sum, _ := encodeSummary(keyedSummary{Key: "/c2c/index/x", summary: summary{Seq: 1, EOL: 2}})
	var stream bytes.Buffer
	_ = writeFrame(&stream, sum)
	_ = writeFrame(&stream, nil)
	for _, s := range [][]byte{pair, sum, stream.Bytes(), encodeGetResponse([]byte("v")), encodeGetResponse(nil), {0xff, 0xff, 0xff, 0xff}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, v, err := decodePair(b); err == nil {
			again, err := encodePair(k, v)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("pair does not re-encode: %v", err)
			}
		}
		if ks, err := decodeSummary(b); err == nil {
			again, err := encodeSummary(ks)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("summary does not re-encode: %v", err)
			}
		}
		if v, err := decodeGetResponse(b); err == nil && len(v) > MaxRecordSize {
			t.Fatal("get response over the cap")
		}
		r := bytes.NewReader(b)
		for {
			fr, err := readFrame(r, maxFrame)
			if err != nil {
				break
			}
			if len(fr) > maxFrame {
				t.Fatal("frame over the cap")
			}
		}
		if m, err := readSummaries(bytes.NewReader(b), 4, func(string) bool { return true }); err == nil && len(m) > 4 {
			t.Fatalf("%d summaries accepted, cap 4", len(m))
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when C2C_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("C2C_WRITE_CORPUS") != "1" {
		t.Skip("set C2C_WRITE_CORPUS=1 to rewrite the committed seed corpus")
	}
	write := func(target string, seeds [][]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzRecord", seedRecords(t))
	var stream bytes.Buffer
	pair, _ := encodePair(CertKey(seededID(t, 1), "phone"), seedRecords(t)[0])
	_ = writeFrame(&stream, pair)
	_ = writeFrame(&stream, nil)
	write("FuzzWire", [][]byte{pair, stream.Bytes(), encodeGetResponse(seedRecords(t)[1]), {0, 0, 0x20, 0}})
}
