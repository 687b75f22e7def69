package files

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
)

// Operation payloads: kind byte, uvarint path length, path, then
//
//	put:    the content (the rest)
//	putref: a boxostore Ref (AppendRef) of a blob the store already holds
//	write:  uvarint offset, the data (the rest)
//	rename: uvarint length, the new path
//	delete: nothing
//	mkdir:  nothing
const (
	opPut    = 'p'
	opPutRef = 'P'
	opWrite  = 'w'
	opRename = 'r'
	opDelete = 'd'
	opMkdir  = 'm'
)

type op struct {
	kind byte
	path string
	to   string
	off  uint64
	data []byte
	ref  boxostore.Ref
}

// Put returns the payload that creates or replaces file path with content.
func Put(path string, content []byte) []byte { return append(head(opPut, path), content...) }

// PutRef returns the payload that creates or replaces file path with the
// blob ref names, by reference: the store must already hold all of its
// blocks (on the mirror: the device uploaded them first, with
// blobxfer.Push), so a file of any size up to MaxFileBytes costs the
// batch a few dozen bytes.
func PutRef(path string, ref boxostore.Ref) []byte {
	return boxostore.AppendRef(head(opPutRef, path), ref)
}

// Write returns the payload that writes data at byte offset off of file path
// (overwriting, and growing the file when it reaches past the end; a missing
// file is created when off is 0).
func Write(path string, off uint64, data []byte) []byte {
	return append(binary.AppendUvarint(head(opWrite, path), off), data...)
}

// Rename returns the payload that moves a file or a directory (with
// everything under it) from path to to.
func Rename(path, to string) []byte {
	return append(binary.AppendUvarint(head(opRename, path), uint64(len(to))), to...)
}

// Delete returns the payload that removes a file, or a directory with
// everything under it.
func Delete(path string) []byte { return head(opDelete, path) }

// Mkdir returns the payload that creates directory path.
func Mkdir(path string) []byte { return head(opMkdir, path) }

func head(kind byte, path string) []byte {
	return append(binary.AppendUvarint([]byte{kind}, uint64(len(path))), path...)
}

// CheckPath reports whether p is a valid path: 1 to MaxPathBytes bytes of
// '/'-separated names, none empty, "." or "..", no NUL.
func CheckPath(p string) error {
	if len(p) == 0 || len(p) > MaxPathBytes {
		return fmt.Errorf("%w: path of %d bytes, want 1 to %d", ErrBadPath, len(p), MaxPathBytes)
	}
	for _, name := range strings.Split(p, "/") {
		if name == "" || name == "." || name == ".." || strings.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("%w: %q", ErrBadPath, p)
		}
	}
	return nil
}

func parseOp(p []byte) (op, error) {
	var o op
	if len(p) < 2 {
		return o, fmt.Errorf("%w: %d-byte payload", ErrBadOp, len(p))
	}
	o.kind = p[0]
	path, rest, err := readString(p[1:])
	if err != nil {
		return o, err
	}
	o.path = path
	switch o.kind {
	case opPut:
		o.data = rest
	case opPutRef:
		if o.ref, rest, err = boxostore.ReadRef(rest); err != nil {
			return o, fmt.Errorf("%w: %w", ErrBadOp, err)
		}
		if len(rest) != 0 {
			return o, fmt.Errorf("%w: trailing bytes", ErrBadOp)
		}
	case opWrite:
		var n int
		if o.off, n = binary.Uvarint(rest); n <= 0 || o.off > MaxFileBytes {
			return o, fmt.Errorf("%w: offset", ErrBadOp)
		}
		o.data = rest[n:]
	case opRename:
		if o.to, rest, err = readString(rest); err != nil {
			return o, err
		}
		if len(rest) != 0 {
			return o, fmt.Errorf("%w: trailing bytes", ErrBadOp)
		}
	case opDelete, opMkdir:
		if len(rest) != 0 {
			return o, fmt.Errorf("%w: trailing bytes", ErrBadOp)
		}
	default:
		return o, fmt.Errorf("%w: kind %#x", ErrBadOp, o.kind)
	}
	return o, nil
}

func readString(p []byte) (string, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > MaxPathBytes || uint64(len(p)-k) < n {
		return "", nil, fmt.Errorf("%w: path", ErrBadOp)
	}
	s := string(p[k : k+int(n)])
	if err := CheckPath(s); err != nil {
		return "", nil, err
	}
	return s, p[k+int(n):], nil
}

// Entry is a file or a directory.
type Entry struct {
	Dir   bool
	Ref   boxostore.Ref // a file's content: CID, SHA-256 and size
	MTime replication.Time
}

// An entry record: 'd' uvarint mtime, or 'f' uvarint mtime ref.
func (e Entry) encode() []byte {
	if e.Dir {
		return binary.AppendUvarint([]byte{'d'}, uint64(e.MTime))
	}
	return boxostore.AppendRef(binary.AppendUvarint([]byte{'f'}, uint64(e.MTime)), e.Ref)
}

func decodeEntry(p []byte) (Entry, error) {
	var e Entry
	if len(p) < 2 || (p[0] != 'd' && p[0] != 'f') {
		return e, fmt.Errorf("%w: entry", ErrBadOp)
	}
	e.Dir = p[0] == 'd'
	mt, n := binary.Uvarint(p[1:])
	if n <= 0 || mt > 1<<62 {
		return e, fmt.Errorf("%w: entry mtime", ErrBadOp)
	}
	e.MTime = replication.Time(mt)
	rest := p[1+n:]
	if !e.Dir {
		var err error
		if e.Ref, rest, err = boxostore.ReadRef(rest); err != nil {
			return e, err
		}
		if e.Ref.Size > MaxFileBytes {
			return e, fmt.Errorf("%w: file of %d bytes", ErrBadOp, e.Ref.Size)
		}
	}
	if len(rest) != 0 {
		return e, fmt.Errorf("%w: entry trailing bytes", ErrBadOp)
	}
	return e, nil
}
