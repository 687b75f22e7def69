package joinbench

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// history is a document built with the real core: a creator typing one
// edit per entry, ordered by the reference sequencer, with the joiner
// added as a writer at seq 2 and the creator's snapshot sealed at
// entries-tail.
type history struct {
	doc     docsync.DocID
	seqPub  ed25519.PublicKey
	creator *docsync.Identity
	joiner  *docsync.Identity
	entries []*docsync.Entry
	snap    *docsync.SealedSnapshot
	text    string
}

// seeded makes the history the same on every run.
type seeded struct{ r *rand.Rand }

func (s seeded) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// newHistory draws the document ID and the keys, the first draws of rng.
func newHistory(rng *rand.Rand) (*history, ed25519.PrivateKey, error) {
	h := &history{}
	for i := range h.doc {
		h.doc[i] = byte(rng.Uint32())
	}
	pub, seqKey, err := ed25519.GenerateKey(seeded{rng})
	if err != nil {
		return nil, nil, err
	}
	h.seqPub = pub
	if h.creator, err = docsync.NewIdentity(seeded{rng}); err != nil {
		return nil, nil, err
	}
	if h.joiner, err = docsync.NewIdentity(seeded{rng}); err != nil {
		return nil, nil, err
	}
	return h, seqKey, nil
}

func historyRand() *rand.Rand { return rand.New(rand.NewPCG(2026, 12)) }

func buildHistory(n, tail, window int, progress io.Writer) (*history, error) {
	rng := historyRand()
	h, seqKey, err := newHistory(rng)
	if err != nil {
		return nil, err
	}
	seq := sequencer.NewReference(h.doc, seqKey)
	a, err := docsync.Create(docsync.Config{Doc: h.doc, Sequencer: h.seqPub, Identity: h.creator, Rand: seeded{rng}})
	if err != nil {
		return nil, err
	}
	step := func() error {
		rd := a.Ready()
		a.Advance()
		for _, env := range rd.Submit {
			e, err := seq.Order(env)
			if err != nil {
				return fmt.Errorf("order: %w", err)
			}
			h.entries = append(h.entries, e)
			if err := a.HandleEntry(e); err != nil {
				return err
			}
		}
		return nil
	}
	if err := step(); err != nil { // genesis
		return nil, err
	}
	if err := a.AddMember(h.joiner.ID(), h.joiner.HPKEPublic(), docsync.RoleWriter); err != nil {
		return nil, err
	}
	cursor := 0
	for len(h.entries) < n {
		if err := step(); err != nil {
			return nil, err
		}
		if len(h.entries) == n-tail && h.snap == nil {
			if h.snap, err = a.SealSnapshot(window); err != nil {
				return nil, err
			}
		}
		if len(h.entries) >= n {
			break
		}
		l := a.LocalLen()
		if rng.IntN(50) == 0 {
			cursor = rng.IntN(l + 1)
		}
		cursor = min(cursor, l)
		var op ot.Op
		if cursor > 0 && rng.IntN(7) == 0 {
			op, err = ot.FromPatch(l, cursor-1, 1, "")
			cursor--
		} else {
			op, err = ot.FromPatch(l, cursor, 0, string(rune('a'+rng.IntN(26))))
			cursor++
		}
		if err != nil {
			return nil, err
		}
		if err := a.Propose(op); err != nil {
			return nil, err
		}
		if len(h.entries)%(max(n/10, 1)) == 0 {
			fmt.Fprintf(progress, "history: %d of %d entries\n", len(h.entries), n)
		}
	}
	for len(a.Ready().Submit) > 0 || a.Busy() {
		if err := step(); err != nil {
			return nil, err
		}
	}
	h.text = a.Text()
	return h, nil
}
