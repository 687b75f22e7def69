package docsync

// EpochKeyForTest exposes a held epoch key to tests.
func (r *Replica) EpochKeyForTest(e uint64) (EpochKey, bool) { k, ok := r.keys[e]; return k, ok }
