package cloneservice

import (
	"sync"

	"github.com/clone2clone/c2c/docsync"
)

// agreedWindow is how many of its latest committed seqs a document
// remembers for the heads-topic validator: at 150 entries a second, about
// 400 ms of them. A head older than that is relayed as any other.
const agreedWindow = 64

// agreedHeads remembers the chain hashes of a document's latest committed
// seqs, so that the heads-topic validator, which runs outside the loop,
// can tell a head that agrees with this clone's log from one that does
// not.
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
type agreedHeads struct {
	mu    sync.Mutex
	slots [agreedWindow]agreedSlot // seq s at s % agreedWindow
}

type agreedSlot struct {
	seq  uint64 // 0: empty
	hash docsync.Hash
}

// record notes that seq, with chain hash h, is committed and durable
// (loop only, after the sync).
func (a *agreedHeads) record(seq uint64, h docsync.Hash) {
	a.mu.Lock()
	a.slots[seq%agreedWindow] = agreedSlot{seq: seq, hash: h}
	a.mu.Unlock()
}

// agrees reports whether seq is committed with chain hash h.
func (a *agreedHeads) agrees(seq uint64, h docsync.Hash) bool {
	if seq == 0 {
		return false
	}
	a.mu.Lock()
	s := a.slots[seq%agreedWindow]
	a.mu.Unlock()
	return s.seq == seq && s.hash == h
}

// resetTo forgets what was recorded and records the latest committed
// seqs of l: a document opened from disk, or a replica replaced by one on
// another branch (move.go), whose seqs past the branch point have other
// hashes.
func (a *agreedHeads) resetTo(l *docsync.LogState) {
	a.mu.Lock()
	a.slots = [agreedWindow]agreedSlot{}
	a.mu.Unlock()
	top := l.Seq()
	for seq := top - min(top, agreedWindow-1); seq <= top; seq++ {
		if h, ok := l.HashAt(seq); ok && seq > 0 {
			a.record(seq, h)
		}
	}
}
