package clonehost

// MemoryModel estimates the memory one running hosted clone holds: the
// clones share one heap and one Go runtime, so nothing measures one
// clone's share directly; the estimate adds what measurements put on an
// idle clone, on each of its connections and on each of its documents.
// It counts live heap and goroutine stacks, what stopping the clone
// frees; the process's RSS is larger (the garbage collector's headroom,
// the parts the clones share).
type MemoryModel struct {
	Base    int64 // an idle clone, without its connections and documents
	PerConn int64
	PerDoc  int64
}

// DefaultMemoryModel is measured on this codebase (docs/operator.md):
// BenchmarkHostedCloneMemory freed 325-343 KB of live heap and stacks
// per idle clone with one connection and 171-220 KB per document of
// five edits; a connection is taken at 56 KiB, the middle of the 40-70
// KB per connection docs/scale.md measured.
func DefaultMemoryModel() MemoryModel {
	return MemoryModel{Base: 270 << 10, PerConn: 56 << 10, PerDoc: 200 << 10}
}

// Estimate is the model's figure for a clone with conns connections and
// docs documents.
func (m MemoryModel) Estimate(conns, docs int) int64 {
	return m.Base + int64(conns)*m.PerConn + int64(docs)*m.PerDoc
}
