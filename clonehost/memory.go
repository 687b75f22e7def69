package clonehost

// MemoryModel estimates what one running hosted clone costs the process:
// the clones share one heap and one Go runtime, so nothing measures one
// clone's share; the estimate adds what measurements put on an idle
// clone, each of its connections and each of its open documents.
type MemoryModel struct {
	Base    int64 // an idle clone with no connection and no document
	PerConn int64
	PerDoc  int64
}

// DefaultMemoryModel is measured on this codebase (docs/scale.md): an
// idle hosted clone holds about 0.87 MB of live heap with its two or so
// connections (BenchmarkIdleHostedClones), a libp2p connection 40-70 KB,
// and an open document the figure BenchmarkHostedCloneDocMemory prints.
func DefaultMemoryModel() MemoryModel {
	return MemoryModel{Base: 760 << 10, PerConn: 56 << 10, PerDoc: 64 << 10}
}

// Estimate is the model's figure for a clone with conns connections and
// docs documents.
func (m MemoryModel) Estimate(conns, docs int) int64 {
	return m.Base + int64(conns)*m.PerConn + int64(docs)*m.PerDoc
}
