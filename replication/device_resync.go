package replication

import "fmt"

// ResyncRequest is the mirror's request that the device freeze and offer its
// state. Number is the batch at which the mirror diverged.
type ResyncRequest struct {
	Number uint64
	Cause  error
}

// ResyncDone tells the device that the mirror holds its state as of the
// offer's batch Number: the device takes input again.
type ResyncDone struct{ Number uint64 }

// rootHistory is how many batches back an offer can name the apps that
// differed at a divergence.
const rootHistory = 64

// HandleResync freezes input: the open batch closes now, every app exports
// its state to a resync store, and a signed Offer goes out. A repeated
// request while frozen sends the same offer again.
func (d *Device) HandleResync(now Time, req ResyncRequest) error {
	if !d.frozen {
		t := d.advance(now)
		d.close(t + 1)
		exp := NewMemStore()
		ms, err := d.apps.Export(exp)
		if err != nil {
			return err
		}
		d.offer = &Offer{Device: d.id, Epoch: d.cfg.Epoch, Number: d.number, Chain: d.chain,
			NextSeq: d.nextSeq, LastNet: d.lastNet, StateHash: d.apps.StateHash(), Apps: ms}
		if roots, ok := d.roots[req.Number]; ok {
			d.offer.CauseBatch, d.offer.CauseRoots = req.Number, roots
		}
		d.offer.seal(d.cfg.Key)
		d.frozen, d.export = true, exp
	}
	d.ready.Send = append(d.ready.Send, Message{Kind: MsgOffer, Data: d.offer.raw})
	return nil
}

// HandleDone unfreezes input after the mirror imported the offered state;
// the next window opens at now.
func (d *Device) HandleDone(now Time, done ResyncDone) error {
	if !d.frozen {
		return ErrNotResyncing
	}
	if done.Number != d.offer.Number {
		return fmt.Errorf("%w: done for batch %d, offered %d", ErrStaleOffer, done.Number, d.offer.Number)
	}
	d.frozen, d.offer, d.export = false, nil, nil
	d.start = max(now, d.clock, d.lastEnd)
	d.clock = d.start
	return nil
}

// Chunk serves a chunk the mirror asked for: a state chunk of the running
// resync, or a payload chunk.
func (d *Device) Chunk(h Hash) ([]byte, error) {
	if d.export != nil {
		if b, err := d.export.Get(h); err == nil {
			return b, nil
		}
	}
	return d.cfg.Store.Get(h)
}
