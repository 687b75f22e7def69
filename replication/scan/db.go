package scan

import (
	"fmt"
	"slices"
)

// EICARName is the name under which the built-in EICAR test signature is
// reported.
const EICARName = "Eicar-Test-Signature"

// EICAR returns the 68-byte EICAR test file. It is kept reversed and
// turned around at run time, so that neither this package's source nor a
// binary built from it holds the test file (an antivirus would flag c2c
// itself; a constant concatenation would be folded into the binary).
func EICAR() []byte {
	b := []byte(eicarReversed)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

const eicarReversed = `*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\4[PA@%P!O5X`

const (
	filterBits  = 20
	filterShift = 32 - filterBits
	filterMul   = 0x9E3779B1
)

func filterHash(x uint32) uint32 { return (x * filterMul) >> filterShift }

type hashKey struct {
	kind   HashKind
	size   int64
	digest [32]byte
}

// anchorRef names one part of one body signature whose anchor is a given
// 4-byte (or, in short, 2-byte) value; the part starts k bytes before it.
type anchorRef struct {
	sig  int32
	part int32
	k    int32
}

type shortRef struct {
	x   uint16
	ref anchorRef
}

type bodySig struct {
	name string
	off  OffsetKind
	n    int64
	pat  *Pattern
}

// A DB is a compiled, immutable signature database, safe for concurrent
// use by any number of scans.
type DB struct {
	version uint64
	hashes  map[hashKey]string
	sizes   [numKinds]map[int64]struct{}
	anySize [numKinds]bool
	nHash   int

	body    []bodySig
	eof     []int32 // indexes into body of the EOF-n signatures
	filter  []uint64
	anchors map[uint32][]anchorRef
	// The parts with only a 2-byte anchor: a bitmap of the 65,536 values,
	// and their refs sorted by value, those of value x at
	// shortRefs[shortOff[x]:shortOff[x+1]] (two array reads, no map). A
	// scan looks at them only when there are some.
	short     []shortRef
	short2    [1 << 16 / 64]uint64
	shortOff  []uint32
	shortRefs []anchorRef
	maxSpan   int
	maxEOF    int
}

// NewDB compiles sets into a database of the given version. EICAR is
// always in it.
func NewDB(version uint64, sets ...*SigSet) (*DB, error) {
	db := &DB{
		version: version,
		hashes:  map[hashKey]string{},
		filter:  make([]uint64, 1<<filterBits/64),
		anchors: map[uint32][]anchorRef{},
	}
	for k := range db.sizes {
		db.sizes[k] = map[int64]struct{}{}
	}
	eicar, err := ParseHex(fmt.Sprintf("%x", EICAR()), true)
	if err != nil {
		panic("scan: built-in EICAR signature: " + err.Error())
	}
	db.addBody(BodySig{Name: EICARName, Off: OffAny, Pattern: eicar})
	for _, set := range sets {
		for _, h := range set.Hash {
			k := hashKey{h.Kind, h.Size, h.Digest}
			if _, dup := db.hashes[k]; !dup {
				db.nHash++
			}
			db.hashes[k] = h.Name
			if h.Size == AnySize {
				db.anySize[h.Kind] = true
			} else {
				db.sizes[h.Kind][h.Size] = struct{}{}
			}
		}
		for _, b := range set.Body {
			if b.Pattern == nil {
				return nil, fmt.Errorf("%w: signature %s not parsed", ErrHex, b.Name)
			}
			db.addBody(b)
		}
	}
	db.indexShort()
	return db, nil
}

// indexShort lays the 2-byte-anchor refs out by value.
func (db *DB) indexShort() {
	if len(db.short) == 0 {
		return
	}
	db.shortOff = make([]uint32, 1<<16+1)
	for _, s := range db.short {
		db.shortOff[int(s.x)+1]++
	}
	for x := 1; x < len(db.shortOff); x++ {
		db.shortOff[x] += db.shortOff[x-1]
	}
	db.shortRefs = make([]anchorRef, len(db.short))
	next := slices.Clone(db.shortOff[:1<<16])
	for _, s := range db.short {
		db.shortRefs[next[s.x]] = s.ref
		next[s.x]++
	}
}

func (db *DB) addBody(b BodySig) {
	i := int32(len(db.body))
	db.body = append(db.body, bodySig{b.Name, b.Off, b.N, b.Pattern})
	if b.Off == OffEOF {
		db.eof = append(db.eof, i)
		db.maxEOF = max(db.maxEOF, int(b.N))
		return
	}
	for j := range b.Pattern.Parts {
		pt := &b.Pattern.Parts[j]
		db.maxSpan = max(db.maxSpan, pt.Span())
		a := pt.Anchor
		if pt.AnchorLen == shortAnchorLen {
			v := pt.Segs[0].Val[a : a+shortAnchorLen]
			x := uint16(v[0]) | uint16(v[1])<<8
			db.short2[x>>6] |= 1 << (x & 63)
			db.short = append(db.short, shortRef{x, anchorRef{i, int32(j), int32(a)}})
			continue
		}
		v := pt.Segs[0].Val[a : a+anchorLen]
		x := uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16 | uint32(v[3])<<24
		h := filterHash(x)
		db.filter[h>>6] |= 1 << (h & 63)
		db.anchors[x] = append(db.anchors[x], anchorRef{i, int32(j), int32(a)})
	}
}

// Version is the database version the verdict cache keys on.
func (db *DB) Version() uint64 { return db.version }

// Counts returns how many distinct hash signatures and how many body
// signatures (EICAR included) the database holds.
func (db *DB) Counts() (hash, body int) { return db.nHash, len(db.body) }

// ShortAnchored returns how many signature parts have only a 2-byte
// anchor: each costs a second, slower filter on every scanned byte.
func (db *DB) ShortAnchored() int { return len(db.short) }

// HashOnly returns a database of the same version with the same hash
// signatures and no body signature at all, not even EICAR: a scan with it
// only computes digests. It shares the hash tables.
func (db *DB) HashOnly() *DB {
	out := *db
	out.body, out.eof, out.anchors, out.maxSpan, out.maxEOF = nil, nil, nil, 0, 0
	out.short, out.shortOff, out.shortRefs, out.short2 = nil, nil, nil, [len(db.short2)]uint64{}
	out.filter = make([]uint64, len(db.filter))
	return &out
}
