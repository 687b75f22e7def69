package docsync

// EpochKeyForTest exposes a held epoch key to tests.
func (r *Replica) EpochKeyForTest(e uint64) (EpochKey, bool) { k, ok := r.keys[e]; return k, ok }

// ResignSnapshotForTest re-encodes and signs a (tampered) snapshot as maker
// priv, the way a lying member or a stranger would.
func ResignSnapshotForTest(s *SealedSnapshot, priv []byte) error { return s.sign(priv) }

// SpliceSequencerForTest replaces the key of the snapshot's last span by
// key, keeping its move entry: a lying maker's schedule.
func SpliceSequencerForTest(s *SealedSnapshot, key []byte) { s.spans[len(s.spans)-1].key = key }

// DropMoveProofForTest removes the signed move of the snapshot's last span.
func DropMoveProofForTest(s *SealedSnapshot) { s.spans[len(s.spans)-1].move = nil }
