package replication_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/clone2clone/c2c/replication/notes"
)

// Random inputs for the harness: notes edits by the user, puts arriving
// from the network.

var noteKeys = func() []string {
	keys := make([]string, 24)
	for i := range keys {
		keys[i] = fmt.Sprintf("note-%02d", i)
	}
	return keys
}()

// randomUserInput picks an edit that mostly applies to the device's notes.
func (p *pair) randomUserInput() (string, []byte) {
	app := "notes"
	if p.rng.IntN(8) == 0 {
		app = "inbox" // the user deletes or edits a received item
	}
	n := notesOf(p.dev.Apps(), app)
	key := noteKeys[p.rng.IntN(len(noteKeys))]
	cur, _ := n.Get(key)
	switch k := p.rng.IntN(20); {
	case k < 12:
		return app, notes.Insert(key, p.rng.IntN(len(cur)+1), []byte(string(rune('a'+p.rng.IntN(26)))))
	case k < 15 && len(cur) > 0:
		off := p.rng.IntN(len(cur))
		return app, notes.Cut(key, off, p.rng.IntN(len(cur)-off)+1)
	case k < 17:
		return app, notes.Put(key, randomBytes(p.rng, 1+p.rng.IntN(600))) // some over the inline limit
	case k < 18:
		return app, notes.Delete(key)
	default:
		return app, notes.Cut(key, len(cur)+1, 1) // rejected by the app: never recorded
	}
}

func (p *pair) randomNetPayload() []byte {
	key := noteKeys[p.rng.IntN(len(noteKeys))]
	return notes.Put(key, randomBytes(p.rng, 1+p.rng.IntN(3000)))
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + rng.IntN(58))
	}
	return b
}
