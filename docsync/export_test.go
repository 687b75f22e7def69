package docsync

// EpochKeyForTest exposes a held epoch key to tests.
func (r *Replica) EpochKeyForTest(e uint64) (EpochKey, bool) { k, ok := r.keys[e]; return k, ok }

// ResignSnapshotForTest re-encodes and signs a (tampered) snapshot as maker
// priv, the way a lying member or a stranger would.
func ResignSnapshotForTest(s *SealedSnapshot, priv []byte) error { return s.sign(priv) }
