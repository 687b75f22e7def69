package scanbench

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// WriteNDB writes n generated .ndb body signatures of target type 0 drawn
// from rng: mostly plain hex of 12 to 27 random bytes, and in each ten one
// each with `??`, `{n-m}`, `*`, an `(a|b)` alternative, and an EOF-n or
// absolute offset.
func WriteNDB(w io.Writer, n int, rng *rand.Rand) error {
	lit := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return hex.EncodeToString(b)
	}
	var sb strings.Builder
	for i := range n {
		off, sig := "*", ""
		switch i % 10 {
		case 5:
			sig = lit(8) + "??" + lit(6)
		case 6:
			sig = lit(8) + fmt.Sprintf("{%d-%d}", 1+rng.IntN(4), 5+rng.IntN(8)) + lit(6)
		case 7:
			sig = lit(8) + "*" + lit(8)
		case 8:
			sig = lit(8) + "(" + lit(2) + "|" + lit(2) + ")" + lit(6)
		case 9:
			if i%20 == 9 {
				off = "EOF-32"
			} else {
				off = fmt.Sprint(rng.IntN(512))
			}
			sig = lit(16)
		default:
			sig = lit(12 + rng.IntN(16))
		}
		fmt.Fprintf(&sb, "Gen.Body.%d:0:%s:%s\n", i, off, sig)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// WriteShortNDB writes n generated .ndb body signatures whose first part
// has only a 2-byte literal anchor: 2 random bytes, a {1-4} gap, 8 random
// bytes. The scanner takes them through its slower 2-byte filter.
func WriteShortNDB(w io.Writer, n int, rng *rand.Rand) error {
	var sb strings.Builder
	for i := range n {
		var b [10]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		fmt.Fprintf(&sb, "Gen.Short.%d:0:*:%x{1-4}%x\n", i, b[:2], b[2:])
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// A Known is a file a generated hash database should detect.
type Known struct {
	Name string
	Data []byte
}

// WriteHDB writes n generated MD5 hash signatures: the files in known, by
// their real MD5 and size, and random digests with sizes of 1 byte to 8 MiB
// for the rest.
func WriteHDB(w io.Writer, n int, rng *rand.Rand, known []Known) error {
	var sb strings.Builder
	for _, k := range known {
		fmt.Fprintf(&sb, "%x:%d:%s\n", md5.Sum(k.Data), len(k.Data), k.Name)
	}
	var d [16]byte
	for i := len(known); i < n; i++ {
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		fmt.Fprintf(&sb, "%x:%d:Gen.Hash.%d\n", d, 1+rng.IntN(8<<20), i)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
