package docsync

// Healing a split brain. A takeover continues the chain from its admin's
// head S; members cut off from it (a partition) keep committing S+1.. from
// the previous sequencer, and the takeover's own entry may never reach
// them. After the heal everything they then hear from the other side is
// signed by a key they do not know, at seqs whose chain is not theirs: a
// head or an entry there only makes them ask for their next entry
// (unverifiedHead). So a member that committed a takeover serves, with
// any range it is asked for from after the takeover, the takeover entry
// itself: the asker then meets the move at S+1, checks it (Replica's
// conflicting) and rolls back to follow it. It costs one extra entry per
// answer, which verifies end to end like the rest.

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

// ServeWithTakeover returns what a member answers a history fetch of
// from.. with: es (its entries from from on), preceded by its latest
// takeover entry when that is before from.
func ServeWithTakeover(l *LogState, from uint64, es []*Entry) []*Entry {
	t := l.LastTakeover()
	if t == nil || t.Head.Seq >= from {
		return es
	}
	return append([]*Entry{t}, es...)
}
