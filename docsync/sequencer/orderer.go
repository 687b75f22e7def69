package sequencer

import (
	"crypto/ed25519"

	"github.com/clone2clone/c2c/docsync"
)

// Orderer is one document's sequencer as the sequencer service runs it.
// The service owns persistence: it writes every entry of Ordered.Log under
// its seq and syncs it before it publishes anything of the call, replays
// what it wrote through Restore after a restart, and serves history from
// it (History may show a clone another view). Order, Restore, Log and Head
// run on the service's loop; History runs on stream handlers, concurrently
// with them.
//
// Honest is the production Orderer. Test and demo code plug in others
// (seqtest wraps Byzantine) through the service's WithSequencer.
type Orderer interface {
	// Order validates env and orders it. An error leaves the state as it was.
	Order(env *docsync.Envelope) (Ordered, error)
	// Restore re-applies an entry of Ordered.Log persisted earlier, in seq order.
	Restore(e *docsync.Entry) error
	// Log is the validated log state: the service checks submissions and
	// history requests against its membership.
	Log() *docsync.LogState
	// Head returns the signed head that clone who is shown, and whether it
	// is the one head of everyone (the service republishes only that on
	// the heads topic).
	Head(who docsync.MemberID) (h docsync.Head, public bool)
	// History returns the encoded entries from..to that clone who is served;
	// stored reads them from what the service persisted.
	History(who docsync.MemberID, from, to uint64, stored func(from, to uint64) [][]byte) ([][]byte, error)
}

// Ordered is what one Order call produced.
type Ordered struct {
	// Log holds the sequencer's own log entries this call added, at the
	// next seqs in order: the service persists them.
	Log []*docsync.Entry
	// Publish is what to publish once Log is durable.
	Publish []Delivery
}

// Honest is the Reference sequencer as an Orderer: each envelope it
// accepts is one entry, persisted, published to everyone and served as
// stored.
type Honest struct{ *Reference }

var _ Orderer = Honest{}

// NewHonest returns the honest Orderer of doc signing with key.
func NewHonest(doc docsync.DocID, key ed25519.PrivateKey) Honest {
	return Honest{NewReference(doc, key)}
}

// Order implements Orderer.
func (s Honest) Order(env *docsync.Envelope) (Ordered, error) {
	e, err := s.Reference.Order(env)
	if err != nil {
		return Ordered{}, err
	}
	return Ordered{Log: []*docsync.Entry{e}, Publish: []Delivery{{Entry: e}}}, nil
}

// Head implements Orderer.
func (s Honest) Head(docsync.MemberID) (docsync.Head, bool) { return s.Reference.Head(), true }

// History implements Orderer: the stored log, as it is.
func (s Honest) History(_ docsync.MemberID, from, to uint64, stored func(from, to uint64) [][]byte) ([][]byte, error) {
	return stored(from, to), nil
}
