package ot

// Diff returns an op that takes a to b, keeping every code point that the
// two share in a longest common subsequence (Myers' O(ND) algorithm over
// code points, after the common prefix and suffix are cut off), so that an
// op transformed past it still deletes and keeps the code points it meant
// wherever they survived. When a and b differ by more than maxEdits
// inserted and deleted code points (a bound on time, O((len(a)+len(b)) *
// maxEdits), and memory, O(maxEdits²)), the middle between the common
// prefix and suffix is replaced as a whole instead.
func Diff(a, b string, maxEdits int) Op {
	ra, rb := []rune(a), []rune(b)
	p := 0
	for p < len(ra) && p < len(rb) && ra[p] == rb[p] {
		p++
	}
	q := 0
	for q < len(ra)-p && q < len(rb)-p && ra[len(ra)-1-q] == rb[len(rb)-1-q] {
		q++
	}
	x, y := ra[p:len(ra)-q], rb[p:len(rb)-q]
	var op Op
	op.Retain(p)
	if runs, ok := myers(x, y, maxEdits); ok {
		for _, r := range runs {
			switch r.kind {
			case Retain:
				op.Retain(r.n)
			case Insert:
				op.Insert(string(y[r.at : r.at+r.n]))
			case Delete:
				op.Delete(r.n)
			}
		}
	} else {
		op.Insert(string(y)).Delete(len(x))
	}
	op.Retain(q)
	return op
}

// run is one piece of an edit script: n code points kept or deleted of x,
// or inserted from y at index at.
type run struct {
	kind  Kind
	n, at int
}

// myers returns the shortest edit script from x to y in order, or false
// when it is longer than maxD.
func myers(x, y []rune, maxD int) ([]run, bool) {
	n, m := len(x), len(y)
	if n == 0 && m == 0 {
		return nil, true
	}
	maxD = min(maxD, n+m)
	if maxD < 0 {
		return nil, false
	}
	off := maxD + 1
	v := make([]int32, 2*maxD+3) // v[off+k]: furthest x on diagonal k = x - y
	var trace [][]int32          // trace[d]: v[off-d..off+d] before round d
	for d := 0; d <= maxD; d++ {
		trace = append(trace, append([]int32(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var xi int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				xi = int(v[off+k+1]) // down: an insert
			} else {
				xi = int(v[off+k-1]) + 1 // right: a delete
			}
			yi := xi - k
			for xi < n && yi < m && x[xi] == y[yi] {
				xi, yi = xi+1, yi+1
			}
			v[off+k] = int32(xi)
			if xi >= n && yi >= m {
				return backtrack(trace, d, n, m), true
			}
		}
	}
	return nil, false
}

// backtrack walks the rounds back from (n, m) and returns the script in order.
func backtrack(trace [][]int32, d, n, m int) []run {
	var rev []run
	add := func(kind Kind, cnt, at int) {
		if cnt == 0 {
			return
		}
		if l := len(rev); l > 0 && rev[l-1].kind == kind {
			rev[l-1].n += cnt
			rev[l-1].at = at // going backwards: the run now starts earlier
			return
		}
		rev = append(rev, run{kind: kind, n: cnt, at: at})
	}
	xi, yi := n, m
	for ; d > 0; d-- {
		vd := trace[d] // v before round d: the ends of the (d-1)-paths, at index k+d
		at := func(k int) int { return int(vd[k+d]) }
		k := xi - yi
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		if pk == k+1 { // down: y[py] inserted, then the snake from (px, py+1)
			add(Retain, xi-px, 0)
			add(Insert, 1, py)
		} else { // right: x[px] deleted, then the snake from (px+1, py)
			add(Retain, xi-px-1, 0)
			add(Delete, 1, 0)
		}
		xi, yi = px, py
	}
	add(Retain, xi, 0) // the snake of round 0
	out := make([]run, len(rev))
	for i, r := range rev {
		out[len(rev)-1-i] = r
	}
	return out
}
