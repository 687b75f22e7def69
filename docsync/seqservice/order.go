package seqservice

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/sequencer"
	"github.com/ipfs/go-datastore"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ordered is an entry ordered in the current batch, encoded once.
type ordered struct {
	doc   *docState
	entry *docsync.Entry
	bytes []byte
}

// delivery is an entry to publish once the batch is durable: to everyone
// (to == nil) or pushed to the clones to names.
type delivery struct {
	doc   *docState
	to    func(docsync.MemberID) bool
	seq   uint64
	bytes []byte
}

// orderBatch orders envelopes, makes the new entries durable with one sync,
// and only then publishes them (loop only).
func (s *Service) orderBatch(batch []*submitted) {
	var out []ordered
	var pub []delivery
	members := map[*docState]bool{}
	for _, sb := range batch {
		d := s.docs[sb.doc]
		if d == nil {
			continue
		}
		err := d.parentKept(sb.env)
		var o sequencer.Ordered
		if err == nil {
			o, err = d.seq.Order(sb.env)
		}
		if err != nil {
			s.stats.refused.Add(1)
			s.refusals.Refuse(sb.env.Author.String(), "envelope_"+reasonOf(err), fmt.Errorf("doc %v: %w", d.id, err))
			continue
		}
		log, dl, err := encodeOrdered(d, o)
		if err != nil {
			// The reload rewinds d to what is durable, so entries of d
			// ordered earlier in this batch must not be persisted either:
			// their seqs will be handed out again.
			out = slices.DeleteFunc(out, func(o ordered) bool { return o.doc == d })
			pub = slices.DeleteFunc(pub, func(o delivery) bool { return o.doc == d })
			s.fail(d, fmt.Errorf("encode entry: %w", err))
			continue
		}
		out, pub = append(out, log...), append(pub, dl...)
		if sb.env.Kind == docsync.KindMember {
			members[d] = true
		}
	}
	if len(out) == 0 && len(pub) == 0 {
		return
	}
	if err := s.persist(out); err != nil {
		// Nothing of this batch was published: reload the affected
		// documents from what is durable, so no seq is handed out twice.
		failed := map[*docState]bool{}
		for _, o := range out {
			if !failed[o.doc] {
				failed[o.doc] = true
				s.fail(o.doc, err)
			}
		}
		return
	}
	defer s.maybeCompact(docsOf(out)) // after publishing: compaction is not on an entry's path
	// Each entry goes to the members' feeds. A member on the entries topic
	// without a feed (one still opening it, a clone catching up after it
	// joined or came back) gets it pushed on a stream of its own while such
	// members are few, and from gossipsub when they are many (a restart
	// ended every feed): a push costs one copy per unfed member, a
	// publication one per peer on the topic and again per mesh hop. A
	// targeted delivery is pushed to the unfed members it names.
	unfed := map[*docState]unfedPeers{}
	pushes := map[peer.ID][][]byte{}
	for _, p := range pub {
		fed := p.doc.deliver(p)
		s.stats.fed.Add(uint64(len(fed)))
		if p.to != nil {
			s.pushTo(p, fed)
			continue
		}
		u, ok := unfed[p.doc]
		if !ok {
			u = s.unfedMembers(p.doc)
			unfed[p.doc] = u
		}
		switch {
		case len(u.peers) == 0:
		case u.pushable():
			for _, id := range u.peers {
				pushes[id] = append(pushes[id], p.bytes)
			}
			s.stats.pushed.Add(uint64(len(u.peers)))
		default:
			s.stats.gossiped.Add(1)
			select {
			case s.outbox <- outgoing{topic: p.doc.entriesOut, bytes: p.bytes, doc: p.doc.id, seq: p.seq}:
			case <-s.ctx.Done():
				return
			}
		}
	}
	for id, es := range pushes {
		for _, b := range netproto.PushBatches(es) { // in seq order
			s.push(id, b)
		}
	}
	// Membership changes apply after the batch's deliveries: a member
	// removed in this batch gets the entry that removed it (and the rest
	// of the batch, under the new key epoch it has no key for), then its
	// feed ends.
	for d := range members {
		s.refreshMembers(d)
	}
}

// encodeOrdered encodes what one Order call produced, each entry once.
func encodeOrdered(d *docState, o sequencer.Ordered) ([]ordered, []delivery, error) {
	enc := make(map[*docsync.Entry][]byte, len(o.Log))
	encode := func(e *docsync.Entry) ([]byte, error) {
		if b, ok := enc[e]; ok {
			return b, nil
		}
		b, err := e.Marshal()
		enc[e] = b
		return b, err
	}
	log := make([]ordered, 0, len(o.Log))
	for _, e := range o.Log {
		b, err := encode(e)
		if err != nil {
			return nil, nil, err
		}
		log = append(log, ordered{doc: d, entry: e, bytes: b})
	}
	dl := make([]delivery, 0, len(o.Publish))
	for _, p := range o.Publish {
		b, err := encode(p.Entry)
		if err != nil {
			return nil, nil, err
		}
		dl = append(dl, delivery{doc: d, to: p.To, seq: p.Entry.Head.Seq, bytes: b})
	}
	return log, dl, nil
}

// outgoing is a durable entry waiting to be published.
type outgoing struct {
	topic Topic
	bytes []byte
	doc   docsync.DocID
	seq   uint64
}

// publisher publishes durable entries in order, and heads when no entry
// waits. It runs beside the loop so gossipsub's signing and its check of
// our own signature overlap with ordering the next batch (the loop blocks
// when the outbox is full). Entries go first: a sequencer holding many
// documents republishes many heads, and no entry may queue behind them.
func (s *Service) publisher() {
	defer s.wg.Done()
	publish := func(o outgoing, what string) {
		if err := o.topic.Publish(s.ctx, o.bytes); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("publish "+what, "doc", o.doc, "seq", o.seq, "err", err)
		}
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case o := <-s.outbox:
			publish(o, "entry")
			continue
		default:
		}
		select {
		case <-s.ctx.Done():
			return
		case o := <-s.outbox:
			publish(o, "entry")
		case o := <-s.heads:
			publish(o, "head")
		}
	}
}

// persist writes the entries in one batch and syncs them to disk.
func (s *Service) persist(out []ordered) error {
	b, err := s.ds.Batch(s.ctx)
	if err != nil {
		return err
	}
	for _, o := range out {
		if err := b.Put(s.ctx, entryKey(o.doc.id, o.entry.Head.Seq), o.bytes); err != nil {
			return err
		}
	}
	if err := b.Commit(s.ctx); err != nil {
		return err
	}
	if err := s.ds.Sync(s.ctx, datastore.NewKey("/d")); err != nil {
		return err
	}
	s.stats.batches.Add(1)
	s.stats.ordered.Add(uint64(len(out)))
	return nil
}

// fail reloads d from the datastore after a failed write.
func (s *Service) fail(d *docState, err error) {
	s.log.Error("sequencer write failed; reloading the document from disk", "doc", d.id, "err", err)
	seq, cp, cerr := s.newOrderer(d.id)
	if cerr != nil {
		s.log.Error("cannot reload the checkpoint; reloading from seq 1", "doc", d.id, "err", cerr)
		seq, cp = s.opts.factory(d.id, s.key), compactPoint{}
	}
	d.ckptSeq, d.firstKept = cp.checkpoint, cp.firstKept
	for n := seq.Log().Seq() + 1; ; n++ {
		b, gerr := s.ds.Get(s.ctx, entryKey(d.id, n))
		if gerr != nil {
			break
		}
		e, derr := docsync.DecodeEntry(b)
		if derr != nil || seq.Restore(e) != nil {
			break
		}
	}
	d.seq = seq
	s.refreshMembers(d)
}

// pushTo pushes a targeted delivery to the subscribed peers it names
// that are not in fed (those have it on their feed).
func (s *Service) pushTo(dl delivery, fed map[docsync.MemberID]bool) {
	for _, p := range dl.doc.entries.ListPeers() {
		m, err := netproto.MemberOf(p)
		if err != nil || !dl.to(m) || fed[m] {
			continue
		}
		s.push(p, [][]byte{dl.bytes})
	}
}

func (s *Service) push(p peer.ID, es [][]byte) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
		defer cancel()
		if err := netproto.PushEntries(ctx, s.h, p, es); err != nil {
			s.log.Debug("push entry", "peer", p, "err", err)
		}
	}()
}

// Topic is what the publisher uses of a document topic (a *pubsub.Topic):
// entries go on the entries topic, heads on the heads topic.
type Topic interface {
	Publish(ctx context.Context, data []byte, opts ...pubsub.PubOpt) error
}
