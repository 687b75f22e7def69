package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// seqFinal is what the sequencer shares once the clones stopped editing,
// per document (indexed like the clone groups).
type seqFinal struct {
	Heads        []docsync.Head `json:"heads"`
	MisbehavedAt []time.Time    `json:"misbehaved_at"`
}

// ackedEdit is one edit a clone made and saw committed.
type ackedEdit struct {
	Seq       uint64    `json:"seq"`
	Submitted time.Time `json:"submitted"`
}

// RunDocsync is the docsync case for one instance: instance 0 is the
// sequencer, the others are clones. Up to docsync.MaxMembers clones share
// one document (more make several documents on the same sequencer, see
// Params.docGroups); the first clone of each group creates its document
// and invites the rest. Instance 0 returns every instance's result, the
// others nil.
func RunDocsync(ctx context.Context, env *Env) ([]InstanceResult, error) {
	p := env.Params
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	res := &InstanceResult{Index: env.Index, Role: roleClone}
	if env.Index == 0 {
		res.Role = roleSequencer
	}

	// 1. The sequencer starts and shares its address.
	var seqPeer *docPeer
	var seqSvc *seqservice.Service
	forker := &forkingSequencer{}
	var mine []byte
	if env.Index == 0 {
		if seqPeer, err = startPeer(env, key); err != nil {
			return nil, err
		}
		defer seqPeer.close()
		opts := []seqservice.Option{seqservice.WithLogger(env.Log)}
		if p.Fork {
			opts = append(opts, seqservice.WithSequencer(forker.factory(p.ForkAt)))
		}
		if seqSvc, err = seqservice.New(seqPeer.h, seqPeer.ps, memStore(), key, opts...); err != nil {
			return nil, err
		}
		defer seqSvc.Close()
		if mine, err = json.Marshal(seqPeer.info()); err != nil {
			return nil, err
		}
	}
	all, err := env.Sync.Gather(ctx, "sequencer", env.Index, mine)
	if err != nil {
		return nil, err
	}
	var seqInfo peer.AddrInfo
	if err := json.Unmarshal(all[0], &seqInfo); err != nil {
		return nil, fmt.Errorf("%w: sequencer info: %w", ErrGather, err)
	}

	// 2. Clones start, enroll and share their cards.
	var c *docClone
	mine = nil
	if env.Index > 0 {
		if err := sleepCtx(ctx, p.joinDelay(env.Index-1)); err != nil {
			return nil, err
		}
		if c, err = newDocClone(ctx, env, key, seqInfo); err != nil {
			return nil, err
		}
		defer c.close()
		if mine, err = json.Marshal(c.card); err != nil {
			return nil, err
		}
	}
	if all, err = env.Sync.Gather(ctx, "clones", env.Index, mine); err != nil {
		return nil, err
	}
	// A clone decodes only its own document group's cards, and only when
	// it needs them (its creator invites them, its directory answers from
	// them): every instance decoding every card cost N^2 certificates of
	// memory (1.5 KB each with the HPKE key), most of an N=1000 run's heap.
	raw := all[1:]
	if env.Index > 0 {
		lo, hi := p.docClones(p.docOf(env.Index))
		raw = raw[lo:hi]
	}
	if env.Index == 0 && p.Fork { // the odd clones get the second branch
		cards, err := decodeCards(raw)
		if err != nil {
			return nil, err
		}
		victims := map[docsync.MemberID]bool{}
		for i, card := range cards {
			if i%2 == 1 {
				victims[card.Member] = true
			}
		}
		forker.setVictims(victims)
	}
	if c != nil {
		c.dir.set(newGatheredDirectory(raw))
	}

	// 3. The first clone of each group creates its document and invites
	// the group.
	mine = nil
	if c != nil && env.Index == p.docCreator(p.docOf(env.Index)) {
		group, err := decodeCards(raw)
		if err != nil {
			return nil, err
		}
		doc, err := c.createAndInvite(ctx, group)
		if err != nil {
			return nil, err
		}
		if mine, err = json.Marshal(doc); err != nil {
			return nil, err
		}
	}
	if all, err = env.Sync.Gather(ctx, "doc", env.Index, mine); err != nil {
		return nil, err
	}
	ndocs, _ := p.docGroups()
	docs := make([]docsync.DocID, ndocs)
	for g := range docs {
		if err := json.Unmarshal(all[p.docCreator(g)], &docs[g]); err != nil {
			return nil, fmt.Errorf("%w: doc %d: %w", ErrGather, g, err)
		}
	}
	if c != nil {
		c.doc = docs[p.docOf(env.Index)]
		if err := c.waitJoined(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := env.Sync.Gather(ctx, "up", env.Index, nil); err != nil {
		return nil, err
	}
	if c != nil {
		if err := c.editsBegin(); err != nil {
			return nil, err
		}
	}
	if env.MeasureHeap {
		res.HeapBytes = heapInUse()
	}
	peers := func() int {
		if c != nil {
			return c.connectedPeers()
		}
		return len(seqPeer.h.Network().Peers())
	}
	res.PeersUp = peers()

	// 4. Clones edit for Duration under churn.
	if c != nil {
		if err := c.editPhase(ctx, churned(p)[env.Index-1]); err != nil {
			return nil, err
		}
		res.Left, res.Rejoined = c.left, c.rejoined
	}
	if _, err := env.Sync.Gather(ctx, "edited", env.Index, nil); err != nil {
		return nil, err
	}

	// 5. The sequencer shares its head; clones catch up to it.
	mine = nil
	if env.Index == 0 {
		var f seqFinal
		for _, doc := range docs {
			h, err := seqSvc.Head(doc, docsync.MemberID{})
			if err != nil {
				return nil, err
			}
			f.Heads = append(f.Heads, h)
			f.MisbehavedAt = append(f.MisbehavedAt, forker.misbehavedAt(doc))
		}
		if mine, err = json.Marshal(f); err != nil {
			return nil, err
		}
	}
	if all, err = env.Sync.Gather(ctx, "final", env.Index, mine); err != nil {
		return nil, err
	}
	var final seqFinal
	if err := json.Unmarshal(all[0], &final); err != nil || len(final.Heads) != ndocs || len(final.MisbehavedAt) != ndocs {
		return nil, fmt.Errorf("%w: final heads of %d documents: %v", ErrGather, ndocs, err)
	}
	mine = nil
	if c != nil {
		if p.Fork {
			c.waitAlarm(ctx)
			if !c.alarmAt.IsZero() {
				res.ForkDelay = max(c.alarmAt.Sub(final.MisbehavedAt[p.docOf(env.Index)]), time.Nanosecond)
			}
		} else {
			res.Converged = c.waitConverged(ctx, final.Heads[p.docOf(env.Index)]) == nil
		}
		acked, err := c.ackedEdits()
		if err != nil && !p.Fork { // an edit committed as the log forked is never acked
			res.Err = err.Error()
		}
		res.EditsAcked = len(acked)
		if mine, err = json.Marshal(acked); err != nil {
			return nil, err
		}
	}
	if all, err = env.Sync.Gather(ctx, "edits", env.Index, mine); err != nil {
		return nil, err
	}
	if c != nil && !p.Fork {
		if err := c.score(res, all); err != nil {
			return nil, err
		}
	}
	res.PeersEnd = peers()
	results, err := gatherResults(ctx, env, res)
	if err != nil {
		return nil, err
	}
	if _, err := env.Sync.Gather(ctx, "done", env.Index, nil); err != nil {
		return nil, err
	}
	return results, nil
}

// randomEdit builds a random insert or delete on a text of length l.
func randomEdit(rng interface{ IntN(int) int }) func(l int) ([]ot.Op, error) {
	const alphabet = "abcdefghij klmnop\n"
	return func(l int) ([]ot.Op, error) {
		pos := rng.IntN(l + 1)
		del := 0
		if l > 0 && rng.IntN(3) == 0 {
			del = min(1+rng.IntN(3), l-pos)
		}
		var ins strings.Builder
		if del == 0 || rng.IntN(2) == 0 {
			for range 1 + rng.IntN(4) {
				ins.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
		}
		op, err := ot.FromPatch(l, pos, del, ins.String())
		if err != nil {
			return nil, err
		}
		return []ot.Op{op}, nil
	}
}
