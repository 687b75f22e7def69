package docsync

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/proto"
)

// MaxCheckpointBytes caps an encoded LogCheckpoint: the window of hashes
// and the membership.
const MaxCheckpointBytes = 32*(MaxParentLag+1) + 4<<20

// Checkpoint encodes the log state for a sequencer that compacts its log
// (seqservice): membership, counters and the chain hashes of the last
// window seqs (at most MaxParentLag; parents older than that are refused
// after a restart from it, RestoreLogState). It is the sequencer's own
// state, never taken from anyone else.
func (l *LogState) Checkpoint(window int) ([]byte, error) {
	if l.Seq() == 0 {
		return nil, fmt.Errorf("%w: no entry to checkpoint", ErrNotReady)
	}
	w := uint64(max(1, min(window, MaxParentLag)))
	base := max(l.base, l.Seq()-min(w, l.Seq()))
	m := metaOf(l).toWire()
	c := &wire.LogCheckpoint{Doc: l.doc[:], Seq: l.Seq(), Base: base, Epoch: l.members.epoch,
		Members: m.members, Wraps: m.wraps, PrevKeys: m.prevKeys, Counters: m.counters}
	var err error
	if c.Sequencers, err = spansToWire(l.spans); err != nil {
		return nil, err
	}
	c.Hashes = make([]byte, 0, 32*(l.Seq()-base+1))
	for _, h := range l.hashes[base-l.base:] {
		c.Hashes = append(c.Hashes, h[:]...)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// RestoreLogState decodes a Checkpoint of doc's log whose genesis
// sequencer key is seqPub (the schedule it carries says who signs later seqs)
// (bounded and checked: it is disk data). Entries after its seq are then
// restored as usual.
func RestoreLogState(b []byte, doc DocID, seqPub ed25519.PublicKey) (*LogState, error) {
	var w wire.LogCheckpoint
	if err := unmarshal(b, MaxCheckpointBytes, &w, "checkpoint"); err != nil {
		return nil, err
	}
	var d DocID
	if err := copy32((*[32]byte)(&d), w.Doc, "checkpoint doc"); err != nil {
		return nil, err
	}
	if d != doc {
		return nil, fmt.Errorf("%w: checkpoint of %v", ErrWrongDoc, d)
	}
	if w.Seq == 0 || w.Base > w.Seq || w.Seq-w.Base > MaxParentLag || uint64(len(w.Hashes)) != 32*(w.Seq-w.Base+1) {
		return nil, fmt.Errorf("%w: checkpoint at %d from %d with %d hash bytes", ErrMalformed, w.Seq, w.Base, len(w.Hashes))
	}
	if w.Base == 0 && Hash(w.Hashes[:32]) != GenesisHash(doc) {
		return nil, fmt.Errorf("%w: checkpoint from seq 0 does not start at the genesis hash", ErrMalformed)
	}
	m, err := metaFromWire(w.Epoch, metaWire{w.Members, w.Wraps, w.PrevKeys, w.Counters}, "checkpoint")
	if err != nil {
		return nil, err
	}
	l := NewLogState(doc, seqPub)
	l.base = w.Base
	l.hashes = make([]Hash, len(w.Hashes)/32)
	for i := range l.hashes {
		copy(l.hashes[i][:], w.Hashes[32*i:])
	}
	m.install(l)
	spans, err := spansFromWire(doc, w.Sequencers, w.Seq, false)
	if err != nil {
		return nil, err
	}
	l.installSpans(spans)
	return l, nil
}
