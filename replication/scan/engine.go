package scan

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"slices"
	"sync"
)

// chunkSize is how much one read asks for; the buffer also keeps the bytes
// a signature may still need from earlier reads. Tests make it small.
var chunkSize = 256 << 10

// A Verdict is the outcome of one scan.
type Verdict struct {
	Infected bool
	// Name is the matching signature's name, By how it matched ("body",
	// "md5", "sha1" or "sha256").
	Name, By string
}

// An Engine scans streams against one DB. It is safe for concurrent use;
// a provider process has one, shared by all its mirrors.
type Engine struct {
	db    *DB
	cache *Cache
	pool  sync.Pool
}

// NewEngine returns an engine for db. cache may be nil (no caching); it
// may be shared by engines of several database versions.
func NewEngine(db *DB, cache *Cache) *Engine {
	e := &Engine{db: db, cache: cache}
	e.pool.New = func() any { return e.newState() }
	return e
}

// DB returns the engine's database.
func (e *Engine) DB() *DB { return e.db }

// ScanBlob returns the cached verdict for the blob with SHA-256 sum under
// the engine's database version, or scans it (opening it only then) and
// caches the verdict; it closes what open returned. The caller vouches
// for sum: the mirror's store keeps each blob's SHA-256 beside its CID.
func (e *Engine) ScanBlob(sum [32]byte, size int64, open func() (io.ReadCloser, error)) (v Verdict, cached bool, err error) {
	if e.cache != nil {
		if v, ok := e.cache.Get(sum, e.db.version); ok {
			return v, true, nil
		}
	}
	r, err := open()
	if err != nil {
		return Verdict{}, false, err
	}
	v, err = e.Scan(r, size)
	r.Close()
	if err != nil {
		return Verdict{}, false, err
	}
	if e.cache != nil {
		e.cache.Put(sum, e.db.version, v)
	}
	return v, false, nil
}

// Scan reads r to its end, or to the first body match, and returns the
// verdict. size is r's length if known, else -1; knowing it lets the scan
// skip the digests no hash signature of that size needs, and a stream
// whose length differs from it is ErrSizeMismatch.
func (e *Engine) Scan(r io.Reader, size int64) (Verdict, error) {
	st := e.pool.Get().(*state)
	defer e.pool.Put(st)
	return st.run(r, size)
}

type cand struct {
	start int64
	ref   anchorRef
}

// state is one scan's scratch, reused through the pool.
type state struct {
	db      *DB
	buf     []byte
	hashers [numKinds]hash.Hash
	active  []HashKind
	cands   []cand
	reached map[int32][]int64 // per multi-part signature, per part: least end, -1 for none
	ends    []int             // scratch for gap verification
	next    []int
}

func (e *Engine) newState() *state {
	keep := max(e.db.maxSpan, e.db.maxEOF)
	return &state{
		db:      e.db,
		buf:     make([]byte, 0, chunkSize+keep+anchorLen),
		hashers: [numKinds]hash.Hash{md5.New(), sha1.New(), sha256.New()},
		reached: map[int32][]int64{},
	}
}

func (st *state) run(r io.Reader, size int64) (Verdict, error) {
	db := st.db
	st.active = st.active[:0]
	for k := range numKinds {
		_, sized := db.sizes[k][size]
		if db.anySize[k] || sized || (size < 0 && len(db.sizes[k]) > 0) {
			st.hashers[k].Reset()
			st.active = append(st.active, k)
		}
	}
	st.cands = st.cands[:0]
	clear(st.reached)
	buf := st.buf[:0]
	var base, scanned, done int64 // buf[0] is at base; anchors before scanned and starts before done are handled
	body := len(db.body) > 0
	eof := false
	for !eof {
		// Drop what no signature can still need.
		drop := min(done, scanned) - base
		if db.maxEOF > 0 {
			drop = min(drop, int64(len(buf)-db.maxEOF))
		}
		if drop > 0 && len(buf) > cap(buf)-chunkSize {
			n := copy(buf, buf[drop:])
			buf = buf[:n]
			base += drop
		}
		n, err := io.ReadAtLeast(r, buf[len(buf):cap(buf)], 1)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
		} else if err != nil {
			return Verdict{}, err
		}
		fresh := buf[len(buf) : len(buf)+n]
		for _, k := range st.active {
			st.hashers[k].Write(fresh)
		}
		buf = buf[:len(buf)+n]
		end := base + int64(len(buf))
		if size >= 0 && end > size {
			return Verdict{}, ErrSizeMismatch
		}
		if !body {
			scanned, done = end, end
			continue
		}
		scanned = st.filter(buf, base, scanned, eof)
		limit := end - int64(db.maxSpan)
		if eof {
			limit = end
		}
		if v, hit := st.verify(buf, base, limit); hit {
			st.buf = buf
			return v, nil
		}
		done = max(done, limit)
	}
	st.buf = buf
	end := base + int64(len(buf))
	if size >= 0 && end != size {
		return Verdict{}, ErrSizeMismatch
	}
	if v, hit := st.matchEOF(buf, base, end); hit {
		return v, nil
	}
	var sum [32]byte
	for _, k := range st.active {
		d := st.hashers[k].Sum(sum[:0])
		var key hashKey
		key.kind, key.size = k, end
		copy(key.digest[:], d)
		if name, ok := db.hashes[key]; ok {
			return Verdict{true, name, k.String()}, nil
		}
		key.size = AnySize
		if name, ok := db.hashes[key]; ok {
			return Verdict{true, name, k.String()}, nil
		}
	}
	return Verdict{}, nil
}

// filter scans anchor positions from scanned to the last one buf holds and
// queues a candidate for each anchor the filter and the table confirm. It
// returns the next position to scan. At eof, the last positions, too near
// the end for a 4-byte anchor, are scanned for 2-byte ones.
func (st *state) filter(buf []byte, base, scanned int64, eof bool) int64 {
	from := int(scanned - base)
	last := len(buf) - anchorLen
	if len(st.db.short) > 0 {
		st.filterShort(buf, base, from, last, eof)
	}
	f := st.db.filter
	for i := from; i <= last; i++ {
		x := binary.LittleEndian.Uint32(buf[i:])
		h := filterHash(x)
		if f[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for _, ref := range st.db.anchors[x] {
			if s := base + int64(i) - int64(ref.k); s >= 0 {
				st.cands = append(st.cands, cand{s, ref})
			}
		}
	}
	return base + int64(max(last+1, from))
}

// filterShort is filter's slow path for the parts with a 2-byte anchor:
// a 64 Kib bitmap, then the table. It scans the same positions as filter,
// and at eof up to the last 2-byte position.
func (st *state) filterShort(buf []byte, base int64, from, last int, eof bool) {
	if eof {
		last = len(buf) - shortAnchorLen
	}
	m := &st.db.short2
	for i := from; i <= last; i++ {
		x := uint16(buf[i]) | uint16(buf[i+1])<<8
		if m[x>>6]&(1<<(x&63)) == 0 {
			continue
		}
		for _, ref := range st.db.shortRefs[st.db.shortOff[x]:st.db.shortOff[int(x)+1]] {
			if s := base + int64(i) - int64(ref.k); s >= 0 {
				st.cands = append(st.cands, cand{s, ref})
			}
		}
	}
}

// verify checks, in order of start, the candidates that start before
// limit, and keeps the others queued.
func (st *state) verify(buf []byte, base, limit int64) (Verdict, bool) {
	if len(st.cands) == 0 {
		return Verdict{}, false
	}
	slices.SortFunc(st.cands, func(a, b cand) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	n := 0
	for n < len(st.cands) && st.cands[n].start < limit {
		n++
	}
	var v Verdict
	hit := false
	for _, c := range st.cands[:n] {
		if st.check(buf, base, c) {
			v, hit = Verdict{true, st.db.body[c.ref.sig].name, "body"}, true
			break
		}
	}
	st.cands = append(st.cands[:0], st.cands[n:]...)
	return v, hit
}

// check verifies one candidate and reports whether its signature is now
// matched whole.
func (st *state) check(buf []byte, base int64, c cand) bool {
	sig := &st.db.body[c.ref.sig]
	j := int(c.ref.part)
	if sig.off == OffAbs && j == 0 && c.start != sig.n {
		return false
	}
	parts := sig.pat.Parts
	var r []int64
	if len(parts) > 1 {
		r = st.reached[c.ref.sig]
		if r == nil {
			r = make([]int64, len(parts))
			for i := range r {
				r[i] = -1
			}
			st.reached[c.ref.sig] = r
		}
		if j > 0 && (r[j-1] < 0 || c.start < r[j-1]+int64(sig.pat.MinGap[j])) {
			return false
		}
	}
	e := st.matchPart(&parts[j], buf, int(c.start-base))
	if e < 0 {
		return false
	}
	if len(parts) == 1 {
		return true
	}
	if end := base + int64(e); r[j] < 0 || end < r[j] {
		r[j] = end
	}
	return j == len(parts)-1
}

// matchSeg reports whether seg matches data at p.
func matchSeg(seg *Segment, data []byte, p int) bool {
	if p < 0 || p+len(seg.Val) > len(data) {
		return false
	}
	d := data[p : p+len(seg.Val)]
	for i, m := range seg.Mask {
		if d[i]&m != seg.Val[i] {
			return false
		}
	}
	for _, a := range seg.Alts {
		ok := false
		for _, c := range a.Choices {
			if string(d[a.Pos:a.Pos+len(c)]) == string(c) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchPart returns the least end of a match of pt starting at p in data,
// or -1. It walks the segments forward, keeping the set of ends reached,
// so no start position of a segment is tried twice.
func (st *state) matchPart(pt *Part, data []byte, p int) int {
	if !matchSeg(&pt.Segs[0], data, p) {
		return -1
	}
	ends := append(st.ends[:0], p+len(pt.Segs[0].Val))
	for i := 1; i < len(pt.Segs); i++ {
		seg, g := &pt.Segs[i], pt.Gaps[i-1]
		next := st.next[:0]
		lastQ := -1
		for _, e := range ends {
			lo, hi := max(e+g.Min, lastQ+1), min(e+g.Max, len(data)-len(seg.Val))
			for q := lo; q <= hi; q++ {
				if matchSeg(seg, data, q) {
					next = append(next, q+len(seg.Val))
				}
			}
			lastQ = max(lastQ, hi)
		}
		st.ends, st.next = next, ends
		ends = next
		if len(ends) == 0 {
			return -1
		}
	}
	st.ends = ends
	return ends[0]
}

// matchEOF checks the EOF-n signatures against the tail in buf.
func (st *state) matchEOF(buf []byte, base, end int64) (Verdict, bool) {
	for _, i := range st.db.eof {
		sig := &st.db.body[i]
		s := end - sig.n
		if s < base || s < 0 {
			continue
		}
		if st.matchWhole(sig.pat, buf, int(s-base)) {
			return Verdict{true, sig.name, "body"}, true
		}
	}
	return Verdict{}, false
}

// matchWhole reports whether pat matches data with its first part at p,
// taking for each later part the match with the least end.
func (st *state) matchWhole(pat *Pattern, data []byte, p int) bool {
	e := st.matchPart(&pat.Parts[0], data, p)
	for j := 1; j < len(pat.Parts) && e >= 0; j++ {
		best := -1
		for q := e + pat.MinGap[j]; q < len(data) && (best < 0 || q < best); q++ {
			if f := st.matchPart(&pat.Parts[j], data, q); f >= 0 && (best < 0 || f < best) {
				best = f
			}
		}
		e = best
	}
	return e >= 0
}
