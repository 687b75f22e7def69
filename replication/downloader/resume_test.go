package downloader

import (
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/replication/downloads"
)

func TestHeader(t *testing.T) {
	if h := Fresh().Header(); h.Get("Range") != "" || h.Get("Accept-Encoding") != "identity" {
		t.Fatalf("fresh: %v", h)
	}
	p := Progress{Offset: 10, Total: 100, ETag: `"v1"`, LastModified: "Tue, 01 Dec 2026 10:00:00 GMT"}
	if h := p.Header(); h.Get("Range") != "bytes=10-" || h.Get("If-Range") != `"v1"` {
		t.Fatalf("etag: %v", h)
	}
	p.ETag = ""
	if h := p.Header(); h.Get("If-Range") != p.LastModified {
		t.Fatalf("last-modified: %v", h)
	}
	p.LastModified = ""
	if h := p.Header(); h.Get("Range") != "" || p.CanResume() {
		t.Fatalf("no validator must not ask for a range: %v", h)
	}
}

func TestDecide(t *testing.T) {
	at := Progress{Offset: 10, Total: 100, ETag: `"v1"`}
	const max = 1000
	for _, c := range []struct {
		name string
		p    Progress
		r    Response
		want Progress
		err  error
	}{
		{"fresh 200", Fresh(), Response{Status: 200, ContentLength: 100, ETag: `"v1"`}, Progress{Total: 100, ETag: `"v1"`}, nil},
		{"weak etag not kept", Fresh(), Response{Status: 200, ContentLength: -1, ETag: `W/"v1"`, LastModified: "x"}, Progress{Total: -1, LastModified: "x"}, nil},
		{"range ignored: restart", at, Response{Status: 200, ContentLength: 100, ETag: `"v1"`}, Progress{Total: 100, ETag: `"v1"`}, nil},
		{"resume", at, Response{Status: 206, ContentLength: 90, ContentRange: "bytes 10-99/100", ETag: `"v1"`}, at, nil},
		{"resume, size unknown", at, Response{Status: 206, ContentLength: -1, ContentRange: "bytes 10-99/*"}, at, nil},
		{"too large", Fresh(), Response{Status: 200, ContentLength: max + 1}, Fresh(), ErrTooLarge},
		{"206 too large", Progress{Offset: 10, Total: -1, ETag: `"v1"`}, Response{Status: 206, ContentLength: -1, ContentRange: "bytes 10-1000/1001"}, Fresh(), ErrTooLarge},
		{"wrong start", at, Response{Status: 206, ContentLength: 80, ContentRange: "bytes 20-99/100"}, at, ErrLength},
		{"size changed", at, Response{Status: 206, ContentLength: 110, ContentRange: "bytes 10-119/120"}, at, ErrLength},
		{"length vs range", at, Response{Status: 206, ContentLength: 50, ContentRange: "bytes 10-99/100"}, at, ErrLength},
		{"short range", at, Response{Status: 206, ContentLength: 40, ContentRange: "bytes 10-49/100"}, at, ErrLength},
		{"other entity", at, Response{Status: 206, ContentLength: 90, ContentRange: "bytes 10-99/100", ETag: `"v2"`}, at, ErrLength},
		{"garbage range", at, Response{Status: 206, ContentLength: -1, ContentRange: "bytes x-y/z"}, at, ErrLength},
		{"206 unasked", Fresh(), Response{Status: 206, ContentLength: 1, ContentRange: "bytes 0-0/1"}, Fresh(), ErrStatus},
		{"404", Fresh(), Response{Status: 404}, Fresh(), ErrStatus},
		{"416", at, Response{Status: 416}, at, ErrStatus},
	} {
		got, err := Decide(c.p, c.r, max)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
}

func TestAccept(t *testing.T) {
	p := Progress{Offset: 90, Total: 100}
	if off, err := p.Accept(10, 1000); err != nil || off != 100 {
		t.Fatal(off, err)
	}
	if _, err := p.Accept(11, 1000); !errors.Is(err, ErrLength) {
		t.Fatal(err)
	}
	if _, err := (Progress{Offset: 90, Total: -1}).Accept(11, 100); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	if (Progress{Offset: 99, Total: 100}).Complete() || !(Progress{Offset: 5, Total: -1}).Complete() {
		t.Fatal("complete")
	}
}

func FuzzProgressRecord(f *testing.F) {
	f.Add(encodeProgress(Progress{Offset: 1, Total: 2, ETag: `"e"`, LastModified: "m"}))
	f.Add([]byte{'p'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProgress(b)
		if err == nil {
			if back, err := decodeProgress(encodeProgress(p)); err != nil || back != p {
				t.Fatalf("round trip %+v: %+v %v", p, back, err)
			}
		}
	})
}

func FuzzContentRange(f *testing.F) {
	f.Add("bytes 0-9/10")
	f.Add("bytes 5-9/*")
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, err := parseContentRange(s)
		if err == nil && (last < first || total < -1) {
			t.Fatalf("%q: %d-%d/%d", s, first, last, total)
		}
	})
}

// TestLongErrorReport: an interrupted request's error quotes a URL of up
// to 4 KiB; its report still reaches the device, the error cut.
func TestLongErrorReport(t *testing.T) {
	long := "Get \"http://example.com/" + strings.Repeat("a", downloads.MaxURLBytes) + "\": connection reset"
	r, err := DecodeReport(EncodeReport(Report{Done: 1, Total: 2, Attempts: 3, State: StateFetching, Err: long}))
	if err != nil || r.Err != long[:maxReportErr] || r.Done != 1 || r.Total != 2 || r.Attempts != 3 {
		t.Fatalf("%+v %v", r, err)
	}
}

func FuzzDecodeReport(f *testing.F) {
	f.Add(EncodeReport(Report{Done: 10, Total: 100, Attempts: 2, State: StateFetching, Err: "cut"}))
	f.Add([]byte{'g'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReport(b)
		if err == nil {
			r.Err = r.Err[:min(len(r.Err), maxReportErr)] // what EncodeReport keeps
			if back, err := DecodeReport(EncodeReport(r)); err != nil || back != r {
				t.Fatalf("round trip %+v: %+v %v", r, back, err)
			}
		}
	})
}
