// Plain-text OT over Unicode code points, as the Go package docsync/ot
// does it (ot.js semantics): an op is an array of components, a positive
// number retains, a negative one deletes, a string inserts; counts are
// code points. The textarea speaks UTF-16 offsets: u16ToCp and cpToU16
// convert, against the text they index.
"use strict";

const OT = (() => {
  function cpLen(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) i++;
      }
      n++;
    }
    return n;
  }
  // cpToU16 returns the UTF-16 offset of code point cp of s (clamped).
  function cpToU16(s, cp) {
    let i = 0;
    for (let n = 0; n < cp && i < s.length; n++) {
      const c = s.charCodeAt(i);
      i++;
      if (c >= 0xd800 && c < 0xdc00 && i < s.length) {
        const d = s.charCodeAt(i);
        if (d >= 0xdc00 && d < 0xe000) i++;
      }
    }
    return i;
  }
  // u16ToCp returns how many code points precede UTF-16 offset u of s (an
  // offset inside a surrogate pair counts the pair as before it).
  function u16ToCp(s, u) { return cpLen(s.slice(0, u)); }
  // snap moves a UTF-16 offset off the middle of a surrogate pair (down).
  function snap(s, u) {
    if (u > 0 && u < s.length) {
      const c = s.charCodeAt(u - 1), d = s.charCodeAt(u);
      if (c >= 0xd800 && c < 0xdc00 && d >= 0xdc00 && d < 0xe000) return u - 1;
    }
    return u;
  }

  const isRetain = (c) => typeof c === "number" && c > 0;
  const isDelete = (c) => typeof c === "number" && c < 0;
  const isInsert = (c) => typeof c === "string";

  // Builder: normalizes as the Go builder does (merged runs, an insert
  // before an adjacent delete).
  class Builder {
    constructor() { this.ops = []; }
    retain(n) {
      if (n <= 0) return this;
      const l = this.ops.length;
      if (l && isRetain(this.ops[l - 1])) this.ops[l - 1] += n; else this.ops.push(n);
      return this;
    }
    insert(s) {
      if (s === "") return this;
      const o = this.ops, l = o.length;
      if (l && isInsert(o[l - 1])) o[l - 1] += s;
      else if (l && isDelete(o[l - 1])) {
        if (l > 1 && isInsert(o[l - 2])) o[l - 2] += s;
        else { o.push(o[l - 1]); o[l - 1] = s; }
      } else o.push(s);
      return this;
    }
    delete(n) {
      if (n <= 0) return this;
      const l = this.ops.length;
      if (l && isDelete(this.ops[l - 1])) this.ops[l - 1] -= n; else this.ops.push(-n);
      return this;
    }
  }

  function baseLen(op) {
    let n = 0;
    for (const c of op) if (isRetain(c)) n += c; else if (isDelete(c)) n -= c;
    return n;
  }

  function apply(op, s) {
    let out = "", i = 0;
    for (const c of op) {
      if (isRetain(c)) {
        const j = i + cpToU16(s.slice(i), c);
        out += s.slice(i, j);
        i = j;
      } else if (isInsert(c)) out += c;
      else i += cpToU16(s.slice(i), -c);
    }
    if (i !== s.length) throw new Error("ot: op does not span the text");
    return out + s.slice(i);
  }

  // Code-point slicing of inserted strings.
  function cpSlice(s, from, to) {
    const a = cpToU16(s, from);
    return to === undefined ? s.slice(a) : s.slice(a, a + cpToU16(s.slice(a), to - from));
  }

  // Component cursor: take(n) returns up to n units of the current component.
  class Cursor {
    constructor(op) { this.op = op; this.i = 0; this.off = 0; }
    peek() {
      if (this.i >= this.op.length) return undefined;
      const c = this.op[this.i];
      if (isInsert(c)) return this.off ? cpSlice(c, this.off) : c;
      if (isRetain(c)) return c - this.off;
      return c + this.off;
    }
    len(c) { return isInsert(c) ? cpLen(c) : Math.abs(c); }
    take(n) {
      const c = this.peek();
      const l = this.len(c);
      if (n >= l) { this.i++; this.off = 0; return c; }
      this.off += n;
      if (isInsert(c)) return cpSlice(c, 0, n);
      return isRetain(c) ? n : -n;
    }
  }

  // transform(a, b) returns [a', b'] with apply(b', apply(a, s)) ===
  // apply(a', apply(b, s)); a's inserts go first on ties (the hub's op,
  // as the Go jupiter client puts the server's first).
  function transform(a, b) {
    if (baseLen(a) !== baseLen(b)) throw new Error("ot: transform of ops on different texts");
    const ap = new Builder(), bp = new Builder();
    const x = new Cursor(a), y = new Cursor(b);
    for (;;) {
      const p = x.peek(), q = y.peek();
      if (p === undefined && q === undefined) break;
      if (isInsert(p)) { x.take(Infinity); ap.insert(p); bp.retain(cpLen(p)); continue; }
      if (isInsert(q)) { y.take(Infinity); ap.retain(cpLen(q)); bp.insert(q); continue; }
      if (p === undefined || q === undefined) throw new Error("ot: transform ran off an op");
      const n = Math.min(Math.abs(p), Math.abs(q));
      x.take(n); y.take(n);
      if (isRetain(p) && isRetain(q)) { ap.retain(n); bp.retain(n); }
      else if (isDelete(p) && isRetain(q)) ap.delete(n);
      else if (isRetain(p) && isDelete(q)) bp.delete(n);
      // both delete: nothing left to do
    }
    return [ap.ops, bp.ops];
  }

  // compose(a, b) is one op doing a then b.
  function compose(a, b) {
    const out = new Builder();
    const x = new Cursor(a), y = new Cursor(b);
    for (;;) {
      const p = x.peek(), q = y.peek();
      if (p === undefined && q === undefined) break;
      if (isDelete(p)) { x.take(Infinity); out.delete(-p); continue; }
      if (isInsert(q)) { y.take(Infinity); out.insert(q); continue; }
      if (p === undefined || q === undefined) throw new Error("ot: compose ran off an op");
      const n = Math.min(x.len(p), y.len(q));
      const pc = x.take(n), qc = y.take(n);
      if (isRetain(qc)) { if (isInsert(pc)) out.insert(pc); else out.retain(n); }
      else if (isRetain(pc)) out.delete(n); // q deletes what p retained
      // q deletes what p inserted: nothing
    }
    return out.ops;
  }

  // transformIndex moves a code-point index past op (an insert at the
  // index pushes it after the inserted text, as ot.js does).
  function transformIndex(op, index) {
    let left = index, out = index;
    for (const c of op) {
      if (isRetain(c)) left -= c;
      else if (isInsert(c)) out += cpLen(c);
      else { out -= Math.min(left, -c); left += c; }
      if (left < 0) break;
    }
    return out;
  }

  // diff returns the op turning a into b (UTF-16 strings): common prefix
  // and suffix kept, the middle replaced, never splitting a surrogate pair.
  // caret, if given, is where the edit left the caret in b: the inserted
  // text ends there (typing "a" inside "aa" inserts where it was typed).
  function diff(a, b, caret) {
    let p = 0;
    const m = Math.min(a.length, b.length);
    let pmax = m, qmax = m;
    if (caret !== undefined && caret >= 0 && caret <= b.length) {
      pmax = Math.max(0, Math.min(m, caret - Math.max(0, b.length - a.length)));
      qmax = b.length - caret;
    }
    while (p < pmax && a.charCodeAt(p) === b.charCodeAt(p)) p++;
    p = Math.min(snap(a, p), snap(b, p));
    let q = 0;
    while (q < m - p && q < qmax && a.charCodeAt(a.length - 1 - q) === b.charCodeAt(b.length - 1 - q)) q++;
    // Do not start the suffix on a low surrogate.
    while (q > 0 && (snap(a, a.length - q) !== a.length - q || snap(b, b.length - q) !== b.length - q)) q--;
    const op = new Builder();
    op.retain(cpLen(a.slice(0, p)));
    op.insert(b.slice(p, b.length - q));
    op.delete(cpLen(a.slice(p, a.length - q)));
    op.retain(cpLen(a.slice(a.length - q)));
    return op.ops;
  }

  return { cpLen, cpToU16, u16ToCp, apply, transform, compose, transformIndex, diff, baseLen, Builder };
})();
