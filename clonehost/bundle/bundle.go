// Package bundle is the wire format of a hosted clone's export (c2c
// provider clones export / import): the files of its directory that make
// it this clone (identity, HPKE key, owner certificate, device index,
// contacts) and every datastore entry under its prefix (documents, device
// link state, mirror state), followed by a checksum over all of it.
//
// The format is a magic line, then frames as internal/bounded writes them
// (a uvarint length, then the body). A frame's first byte is its kind:
//
//	'f' file:  uvarint name length, name, contents
//	'k' entry: uvarint key length, key (relative to the clone's prefix), value
//	'e' end:   uvarint files, uvarint entries, SHA-256 of every frame before it
//
// Decode reads a stranger's bytes: it checks every length against its
// Limits before it reads what the length announces, keeps at most
// Limits.MaxBytes, and returns nothing unless the end frame's counts and
// checksum match, so a truncated or altered export is refused whole. What
// the files say (that the certificate names the identity's peer ID) is
// the importer's check; this package knows only the format. It is pure:
// no I/O beyond the reader and writer it is given.
package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/clone2clone/c2c/internal/bounded"
)

// Magic opens every bundle.
const Magic = "c2c-clone-bundle/1\n"

// Frame kinds.
const (
	kindFile  = 'f'
	kindEntry = 'k'
	kindEnd   = 'e'
)

// Errors of Decode.
var (
	// ErrMalformed: not a bundle, or a frame that does not parse.
	ErrMalformed = errors.New("bundle: malformed")
	// ErrTooLarge: over one of the Limits.
	ErrTooLarge = errors.New("bundle: over its limits")
	// ErrTruncated: the stream ended before the end frame.
	ErrTruncated = errors.New("bundle: truncated (no end frame)")
	// ErrChecksum: the end frame's counts or checksum do not match.
	ErrChecksum = errors.New("bundle: checksum mismatch")
)

// File is one file of the clone's directory.
type File struct {
	Name string
	Data []byte
}

// Entry is one datastore entry, its key relative to the clone's prefix.
type Entry struct {
	Key   string
	Value []byte
}

// Bundle is one clone's export.
type Bundle struct {
	Files   []File
	Entries []Entry
}

// File returns the contents of the file called name, or nil.
func (b *Bundle) File(name string) []byte {
	for _, f := range b.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// Limits bound what Decode accepts.
type Limits struct {
	MaxBytes   int64 // all frames together
	MaxFrame   int   // one frame (one file or one entry)
	MaxFiles   int
	MaxEntries int
}

// DefaultLimits: 1 GiB in all, 64 MiB per frame, 16 files, 4 Mi entries.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 30, MaxFrame: 64 << 20, MaxFiles: 16, MaxEntries: 4 << 20}
}

// Writer writes a bundle frame by frame, so an export streams without
// holding the clone's datastore in memory.
type Writer struct {
	w              io.Writer
	sum            hash.Hash
	files, entries uint64
	err            error
}

// NewWriter writes the magic line to w and returns the bundle's writer.
func NewWriter(w io.Writer) (*Writer, error) {
	if _, err := io.WriteString(w, Magic); err != nil {
		return nil, err
	}
	return &Writer{w: w, sum: sha256.New()}, nil
}

func (bw *Writer) frame(kind byte, name string, data []byte) error {
	if bw.err != nil {
		return bw.err
	}
	body := make([]byte, 0, 1+binary.MaxVarintLen64+len(name)+len(data))
	body = append(body, kind)
	body = binary.AppendUvarint(body, uint64(len(name)))
	body = append(append(body, name...), data...)
	if _, err := bounded.WriteFrame(io.MultiWriter(bw.w, bw.sum), body); err != nil {
		bw.err = err
	}
	return bw.err
}

// File writes one file.
func (bw *Writer) File(name string, data []byte) error {
	bw.files++
	return bw.frame(kindFile, name, data)
}

// Entry writes one datastore entry.
func (bw *Writer) Entry(key string, value []byte) error {
	bw.entries++
	return bw.frame(kindEntry, key, value)
}

// Close writes the end frame. It does not close the underlying writer.
func (bw *Writer) Close() error {
	if bw.err != nil {
		return bw.err
	}
	body := []byte{kindEnd}
	body = binary.AppendUvarint(body, bw.files)
	body = binary.AppendUvarint(body, bw.entries)
	body = append(body, bw.sum.Sum(nil)...)
	_, err := bounded.WriteFrame(bw.w, body)
	return err
}

// Encode writes b whole.
func Encode(w io.Writer, b *Bundle) error {
	bw, err := NewWriter(w)
	if err != nil {
		return err
	}
	for _, f := range b.Files {
		_ = bw.File(f.Name, f.Data)
	}
	for _, e := range b.Entries {
		_ = bw.Entry(e.Key, e.Value)
	}
	return bw.Close()
}

// Decode reads one bundle from r within lim and checks its end frame.
func Decode(r io.Reader, lim Limits) (*Bundle, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != Magic {
		return nil, fmt.Errorf("%w: not a clone bundle (no %q line)", ErrMalformed, strings.TrimSpace(Magic))
	}
	sum := sha256.New()
	var total int64
	b := &Bundle{}
	seenFiles := map[string]bool{}
	seenKeys := map[string]bool{}
	for {
		body, n, err := bounded.ReadFrame(br, lim.MaxFrame)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, bounded.ErrShort):
			return nil, ErrTruncated
		case errors.Is(err, bounded.ErrTooLarge):
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		case err != nil:
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if total += int64(n); total > lim.MaxBytes {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
		}
		if len(body) == 0 {
			return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
		}
		if body[0] == kindEnd {
			if err := checkEnd(body[1:], sum.Sum(nil), b); err != nil {
				return nil, err
			}
			if _, err := br.ReadByte(); err != io.EOF {
				return nil, fmt.Errorf("%w: bytes after the end frame", ErrMalformed)
			}
			return b, nil
		}
		name, data, err := split(body[1:])
		if err != nil {
			return nil, err
		}
		switch body[0] {
		case kindFile:
			if len(b.Files) >= lim.MaxFiles {
				return nil, fmt.Errorf("%w: more than %d files", ErrTooLarge, lim.MaxFiles)
			}
			if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." || seenFiles[name] {
				return nil, fmt.Errorf("%w: file name %q", ErrMalformed, name)
			}
			seenFiles[name] = true
			b.Files = append(b.Files, File{Name: name, Data: data})
		case kindEntry:
			if len(b.Entries) >= lim.MaxEntries {
				return nil, fmt.Errorf("%w: more than %d entries", ErrTooLarge, lim.MaxEntries)
			}
			if !strings.HasPrefix(name, "/") || seenKeys[name] {
				return nil, fmt.Errorf("%w: key %q", ErrMalformed, name)
			}
			seenKeys[name] = true
			b.Entries = append(b.Entries, Entry{Key: name, Value: data})
		default:
			return nil, fmt.Errorf("%w: frame kind %q", ErrMalformed, body[0])
		}
		sum.Write(binary.AppendUvarint(nil, uint64(len(body))))
		sum.Write(body)
	}
}

// split parses a file or entry frame's name and data (data aliases body).
func split(body []byte) (string, []byte, error) {
	n, k := binary.Uvarint(body)
	if k <= 0 || n > uint64(len(body)-k) {
		return "", nil, fmt.Errorf("%w: name length", ErrMalformed)
	}
	return string(body[k : k+int(n)]), body[k+int(n):], nil
}

func checkEnd(body, sum []byte, b *Bundle) error {
	files, k := binary.Uvarint(body)
	if k <= 0 {
		return fmt.Errorf("%w: end frame", ErrMalformed)
	}
	body = body[k:]
	entries, k := binary.Uvarint(body)
	if k <= 0 || len(body[k:]) != sha256.Size {
		return fmt.Errorf("%w: end frame", ErrMalformed)
	}
	if files != uint64(len(b.Files)) || entries != uint64(len(b.Entries)) || !bytes.Equal(body[k:], sum) {
		return ErrChecksum
	}
	return nil
}
