package cloneservice

import (
	"bytes"
	"sync"

	"github.com/clone2clone/c2c/docsync"
)

// agreedWindow is how many of its latest committed seqs a document
// remembers for the heads-topic validator: at 150 entries a second, about
// 400 ms of them. A head older than that is relayed as any other.
const agreedWindow = 64

// agreedHeads remembers the signed heads of a document's latest
// committed seqs, so that the heads-topic validator, which runs outside
// the loop, can tell a head that agrees with this clone's log from one
// that does not.
//
// Why: a head that agrees carries nothing this clone's own heads do not
// (its chain hash vouches for the same history), so it is neither handed
// to the loop nor relayed (validateHead). Publishers flood their heads to
// every member they are connected to; relaying every copy over the mesh
// as well made head gossip grow with the members squared (c2c bench
// latency, --clones 32: 4,997 bytes per edit of head messages and 1,334
// of their IHAVE). A head that does not agree, or that this clone cannot
// check yet (ahead of its log, or older than the window), is relayed as
// before: that is what carries a fork across the members.
//
// A head agrees only if its signature bytes are the ones we verified too
// (Ed25519 signatures are deterministic, so every honest copy has them):
// a stranger's copy of a public seq and chain hash under a garbage
// signature goes on to verification and is rejected, at a cost to its
// sender's score, as before.
type agreedHeads struct {
	mu    sync.Mutex
	slots [agreedWindow]agreedSlot // seq s at s % agreedWindow
}

type agreedSlot struct {
	seq  uint64 // 0: empty
	hash docsync.Hash
	sig  []byte
}

// record notes the signed head h of a committed seq (loop only, once it
// is durable, or for a log just opened or replaced).
func (a *agreedHeads) record(h docsync.Head) {
	a.mu.Lock()
	a.slots[h.Seq%agreedWindow] = agreedSlot{seq: h.Seq, hash: h.ChainHash, sig: h.Sig}
	a.mu.Unlock()
}

// agrees reports whether h is the head we committed at its seq.
func (a *agreedHeads) agrees(h docsync.Head) bool {
	if h.Seq == 0 {
		return false
	}
	a.mu.Lock()
	s := a.slots[h.Seq%agreedWindow]
	a.mu.Unlock()
	return s.seq == h.Seq && s.hash == h.ChainHash && bytes.Equal(s.sig, h.Sig)
}

// resetTo replaces what was recorded with the latest signed heads of r: a
// document opened from disk, or a replica replaced by one that may be on
// another branch (a move's rollback, a jump to a member's snapshot),
// whose seqs past the branch point have other hashes. Seqs whose signed
// head r does not hold (inside the snapshot it joined from) are left
// out: their heads are relayed.
func (a *agreedHeads) resetTo(r *docsync.Replica) {
	var slots [agreedWindow]agreedSlot
	top := r.Log().Seq()
	for seq := top - min(top, agreedWindow-1); seq <= top; seq++ {
		if h, ok := r.HeadAt(seq); ok {
			slots[seq%agreedWindow] = agreedSlot{seq: seq, hash: h.ChainHash, sig: h.Sig}
		}
	}
	a.mu.Lock()
	a.slots = slots
	a.mu.Unlock()
}
