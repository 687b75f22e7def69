package scan

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// A HashKind is the digest a hash signature uses.
type HashKind uint8

// The hash kinds, told apart by the hash's length.
const (
	MD5 HashKind = iota
	SHA1
	SHA256
	numKinds
)

var kindNames = [numKinds]string{"md5", "sha1", "sha256"}

func (k HashKind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// AnySize is a hash signature's size when the file gives `*`.
const AnySize = -1

// A HashSig is one line of an .hdb or .hsb file.
type HashSig struct {
	Name   string
	Kind   HashKind
	Size   int64 // AnySize for `*`
	Digest [32]byte
}

// An OffsetKind says where a body signature must start.
type OffsetKind uint8

// The offsets of target type 0.
const (
	OffAny OffsetKind = iota // `*`
	OffAbs                   // `n`: at byte n
	OffEOF                   // `EOF-n`: n bytes before the end
)

// A BodySig is one line of an .ndb file.
type BodySig struct {
	Name    string
	Off     OffsetKind
	N       int64
	Hex     string
	Pattern *Pattern
}

// A SigSet is what one or more signature files hold.
type SigSet struct {
	Hash []HashSig
	Body []BodySig
	// Skipped counts .ndb lines of a target type other than 0.
	Skipped int
	// Unsupported counts the lines skipped because they use a form this
	// scanner does not implement (ErrUnsupported, ErrNoAnchor);
	// FirstUnsupported says where and why, for the first few.
	Unsupported      int
	FirstUnsupported []string
}

// maxFirstUnsupported is how many skipped lines a SigSet describes.
const maxFirstUnsupported = 5

// skipUnsupported counts err, and reports true, if it is an unsupported
// form rather than a malformed line.
func (set *SigSet) skipUnsupported(name string, line int, err error) bool {
	if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNoAnchor) {
		return false
	}
	set.Unsupported++
	if len(set.FirstUnsupported) < maxFirstUnsupported {
		set.FirstUnsupported = append(set.FirstUnsupported, fmt.Sprintf("%s: line %d: %v", filepath.Base(name), line, err))
	}
	return true
}

// ParseFile parses a signature file by its name's extension (.hdb, .hsb
// or .ndb) into set. A body signature of a form the scanner does not
// implement is skipped and counted (set.Unsupported); any other bad line
// is an error.
func ParseFile(name string, r io.Reader, set *SigSet) error {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".hdb", ".hsb":
		return eachLine(r, func(_ int, l string) error { return set.addHash(l) })
	case ".ndb":
		return eachLine(r, func(n int, l string) error {
			if err := set.addBody(l); err != nil && !set.skipUnsupported(name, n, err) {
				return err
			}
			return nil
		})
	}
	return fmt.Errorf("%w: %s", ErrFormat, name)
}

// eachLine calls f on every line that is neither blank nor a `#` comment,
// reading at most MaxLine bytes of any line.
func eachLine(r io.Reader, f func(n int, line string) error) error {
	br := bufio.NewReaderSize(r, 4096)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		var err error
		for {
			var frag []byte
			frag, err = br.ReadSlice('\n')
			if len(line)+len(frag) > MaxLine+1 {
				return &ParseError{n, fmt.Errorf("%w: line over %d bytes", ErrTooLong, MaxLine)}
			}
			line = append(line, frag...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		l := bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(l)) != 0 && l[0] != '#' {
			if perr := f(n, string(l)); perr != nil {
				return &ParseError{n, perr}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrName)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%w: control byte in %q", ErrName, s)
		}
	}
	return nil
}

// decimal parses a non-negative decimal of at most 15 digits.
func decimal(s string) (int64, bool) {
	if s == "" || len(s) > 15 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// addHash parses `hash:size:name[:flevel]`.
func (set *SigSet) addHash(l string) error {
	f := strings.Split(l, ":")
	if len(f) < 3 || len(f) > 4 {
		return fmt.Errorf("%w: %d in a hash signature, want hash:size:name[:flevel]", ErrFields, len(f))
	}
	var s HashSig
	switch len(f[0]) {
	case 32:
		s.Kind = MD5
	case 40:
		s.Kind = SHA1
	case 64:
		s.Kind = SHA256
	default:
		return fmt.Errorf("%w: %d hex digits, want 32, 40 or 64", ErrHash, len(f[0]))
	}
	if _, err := hex.Decode(s.Digest[:], []byte(f[0])); err != nil {
		return fmt.Errorf("%w: %v", ErrHash, err)
	}
	if f[1] == "*" {
		s.Size = AnySize
	} else if n, ok := decimal(f[1]); ok {
		s.Size = n
	} else {
		return fmt.Errorf("%w: %q", ErrSize, f[1])
	}
	if err := checkName(f[2]); err != nil {
		return err
	}
	if len(f) == 4 {
		if _, ok := decimal(f[3]); !ok {
			return fmt.Errorf("%w: flevel %q", ErrFields, f[3])
		}
	}
	s.Name = f[2]
	set.Hash = append(set.Hash, s)
	return nil
}

// addBody parses `name:target:offset:hexsig[:min_flevel[:max_flevel]]`.
func (set *SigSet) addBody(l string) error {
	f := strings.Split(l, ":")
	if len(f) < 4 || len(f) > 6 {
		return fmt.Errorf("%w: %d in a body signature, want name:target:offset:hexsig", ErrFields, len(f))
	}
	if err := checkName(f[0]); err != nil {
		return err
	}
	for _, fl := range f[4:] {
		if _, ok := decimal(fl); !ok && fl != "" {
			return fmt.Errorf("%w: flevel %q", ErrFields, fl)
		}
	}
	t, ok := decimal(f[1])
	if !ok {
		return fmt.Errorf("%w: %q", ErrTarget, f[1])
	}
	if t != 0 {
		set.Skipped++
		return nil
	}
	s := BodySig{Name: f[0], Hex: f[3]}
	switch o := f[2]; {
	case o == "*":
		s.Off = OffAny
	case strings.HasPrefix(o, "EOF-"):
		n, ok := decimal(o[4:])
		if !ok || n > MaxEOFOffset {
			return fmt.Errorf("%w: %q (EOF-n with n at most %d)", ErrOffset, o, MaxEOFOffset)
		}
		s.Off, s.N = OffEOF, n
	case strings.Contains(o, ","):
		return fmt.Errorf("%w: floating offset %q", ErrUnsupported, o)
	default:
		n, ok := decimal(o)
		if !ok {
			return fmt.Errorf("%w: %q (want *, n or EOF-n)", ErrOffset, o)
		}
		s.Off, s.N = OffAbs, n
	}
	p, err := ParseHex(s.Hex, s.Off != OffEOF)
	if err != nil {
		return err
	}
	if s.Off == OffEOF && int64(p.MinLen()) > s.N {
		return fmt.Errorf("%w: %q is shorter than the signature", ErrOffset, f[2])
	}
	s.Pattern = p
	set.Body = append(set.Body, s)
	return nil
}
