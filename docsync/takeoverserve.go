package docsync

// Healing a split brain. A takeover continues the chain from its admin's
// head S; members cut off from it (a partition) keep committing S+1.. from
// the previous sequencer, and the takeover's own entry may never reach
// them. After the heal everything they then hear from the other side is
// signed by a key they do not know, at seqs whose chain is not theirs: a
// head or an entry there only makes them ask for their next entry, one
// entry (unverifiedHead; the clone service asks a member too when such a
// head is gossiped, cloneservice/heal.go). A member that committed a
// takeover answers a fetch of one entry after the takeover with the
// takeover entry first: the asker then meets the move at S+1, checks it
// (Replica's conflicting) and rolls back to follow it. It costs one extra
// entry, which verifies end to end like the rest.

// LastTakeover returns the entry of the latest takeover this log
// committed, with its sequencer signature (nil if none).
func (l *LogState) LastTakeover() *Entry {
	for i := len(l.spans) - 1; i > 0; i-- {
		if sp := l.spans[i]; sp.takeover && sp.move != nil && len(sp.move.Head.Sig) > 0 {
			return sp.move
		}
	}
	return nil
}

// TakeoverFor returns the entry a member serves first in its answer to a
// history fetch of from..to: its latest takeover's, when the fetch is for
// one entry (what a clone asks when it cannot place a head, askNext, or
// when a fork stopped it) and the takeover is not that entry; nil
// otherwise. A takeover after it is what a member halted on a branch the
// document left follows across (recover.go). Ranges (catch-up, adoption)
// are answered as they are, so their replies stay contiguous and full.
func (l *LogState) TakeoverFor(from, to uint64) *Entry {
	if t := l.LastTakeover(); t != nil && from == to && t.Head.Seq != from {
		return t
	}
	return nil
}
