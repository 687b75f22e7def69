package sequencer

import (
	"crypto/ed25519"

	"github.com/clone2clone/c2c/docsync"
)

// Delivery is an entry a sequencer publishes, to everyone (To == nil) or to
// the clones for which To returns true.
type Delivery struct {
	To    func(docsync.MemberID) bool
	Entry *docsync.Entry
}

// Node is a sequencer as a simulation or a service sees it: envelopes in,
// deliveries out, and history ranges served on request.
type Node interface {
	// Submit takes an envelope and returns what to publish (possibly nothing).
	Submit(env *docsync.Envelope) []Delivery
	// Fetch serves entries from..to (inclusive) to the clone who.
	Fetch(who docsync.MemberID, from, to uint64) []*docsync.Entry
	// Head returns the sequencer's signed head (for the view of clone who).
	Head(who docsync.MemberID) docsync.Head
}

// Memory is an honest sequencer with its log kept in memory.
type Memory struct {
	*Reference
	entries []*docsync.Entry // entries[i] has seq i+1
	// Rejected counts envelopes the reference refused.
	Rejected int
}

// NewMemory returns an honest in-memory sequencer.
func NewMemory(doc docsync.DocID, key ed25519.PrivateKey) *Memory {
	return &Memory{Reference: NewReference(doc, key)}
}

// Submit orders env; a rejected envelope publishes nothing.
func (m *Memory) Submit(env *docsync.Envelope) []Delivery {
	e, err := m.Order(env)
	if err != nil {
		m.Rejected++
		return nil
	}
	m.entries = append(m.entries, e)
	return []Delivery{{Entry: e}}
}

// Fetch returns the committed entries in from..to.
func (m *Memory) Fetch(_ docsync.MemberID, from, to uint64) []*docsync.Entry {
	return rangeOf(m.entries, from, to)
}

// Head returns the signed head.
func (m *Memory) Head(docsync.MemberID) docsync.Head { return m.Reference.Head() }

// Entries returns the log.
func (m *Memory) Entries() []*docsync.Entry { return m.entries }

func rangeOf(entries []*docsync.Entry, from, to uint64) []*docsync.Entry {
	if from == 0 {
		from = 1
	}
	to = min(to, uint64(len(entries)))
	if from > to {
		return nil
	}
	return append([]*docsync.Entry(nil), entries[from-1:to]...)
}
