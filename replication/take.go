package replication

import "fmt"

// HandleBatch takes an encoded batch from the device at the mirror's time
// now: it is decoded and checked, in this order, and refused with a
// distinct error at the first failure: structure (ErrTruncated,
// ErrTooLarge, ErrNonCanonical, ErrMalformed), device (ErrWrongDevice),
// epoch (ErrEpoch), signature (ErrSignature), number (ErrReplay for a batch
// already taken, ErrBatchGap for one beyond the next: that starts a resync,
// since a lost batch cannot be told from a reordered one), chain (ErrChain),
// positions (ErrPosition), window (ErrWindow), size (ErrTooLarge), apps
// (ErrUnknownApp) and network inputs (ErrUnknownNet). A batch that passes is
// queued to replay at End+t_max. The batch keeps p: do not modify it.
//
// While a resync runs, authentic batches are dropped: the offer covers them.
func (m *Mirror) HandleBatch(now Time, p []byte) error {
	b, err := DecodeBatch(p)
	if err != nil {
		return m.refuse(0, err)
	}
	if err := m.authentic(b.Device, b.Epoch); err != nil {
		return m.refuse(b.Number, err)
	}
	if err := b.VerifySig(m.pub); err != nil {
		return m.refuse(b.Number, err)
	}
	if m.resync != nil {
		m.stats.Superseded++
		return nil
	}
	if err := m.check(b); err != nil {
		return m.refuse(b.Number, err)
	}
	if b.Number > m.next {
		err := fmt.Errorf("%w: got %d, want %d", ErrBatchGap, b.Number, m.next)
		m.refuse(b.Number, err)
		m.startResync(now, m.next, ErrBatchGap)
		return err
	}
	m.next++
	m.chain, m.nextSeq, m.lastEnd = b.Chain, b.NextSeq(), b.End
	if len(b.Net) > 0 {
		m.takenNet = b.Net[len(b.Net)-1].NetSeq
	}
	for i := range b.User {
		if in := &b.User[i]; !in.Ref.IsZero() {
			if ok, _ := m.cfg.Store.Has(in.Ref); !ok {
				m.wantPayload[in.Ref] = in.Size
			}
		}
	}
	m.queue = append(m.queue, queued{b: b, due: b.End.Add(m.tmax)})
	return nil
}

func (m *Mirror) authentic(dev DeviceID, epoch uint64) error {
	if dev != m.cfg.Device {
		return fmt.Errorf("%w: %v, mirror of %v", ErrWrongDevice, dev, m.cfg.Device)
	}
	if epoch != m.cfg.Epoch {
		return fmt.Errorf("%w: %d, mirror at %d", ErrEpoch, epoch, m.cfg.Epoch)
	}
	return nil
}

// check validates an authentic batch against what the mirror has taken. A
// gap (b.Number > m.next) passes here and is handled by the caller.
func (m *Mirror) check(b *Batch) error {
	if b.Number < m.next {
		return fmt.Errorf("%w: batch %d, next is %d", ErrReplay, b.Number, m.next)
	}
	if b.Number > m.next {
		return nil
	}
	if !b.Extends(m.chain) {
		return fmt.Errorf("%w: batch %d", ErrChain, b.Number)
	}
	if b.FirstSeq != m.nextSeq {
		return fmt.Errorf("%w: batch %d starts at %d, want %d", ErrPosition, b.Number, b.FirstSeq, m.nextSeq)
	}
	if b.End-b.Start > m.syn || b.Start < m.lastEnd {
		return fmt.Errorf("%w: batch %d [%d, %d) after %d, t_syn_int %d ms", ErrWindow, b.Number, b.Start, b.End, m.lastEnd, m.syn)
	}
	if b.Len() > m.cfg.Params.MaxBatchInputs {
		return fmt.Errorf("%w: batch %d has %d inputs, cap %d", ErrTooLarge, b.Number, b.Len(), m.cfg.Params.MaxBatchInputs)
	}
	napps := uint32(len(m.apps.apps))
	for i := range b.User {
		in := &b.User[i]
		if in.App >= napps {
			return fmt.Errorf("%w: index %d of %d", ErrUnknownApp, in.App, napps)
		}
		if !in.Ref.IsZero() && in.Size > m.cfg.Params.MaxPayloadBytes {
			return fmt.Errorf("%w: payload of %d bytes, cap %d", ErrTooLarge, in.Size, m.cfg.Params.MaxPayloadBytes)
		}
	}
	if len(b.Net) > 0 {
		first, last := b.Net[0].NetSeq, b.Net[len(b.Net)-1].NetSeq
		if first <= m.takenNet || first < m.netBase || last > m.relayed {
			return fmt.Errorf("%w: net seqs %d..%d, consumed through %d, relayed %d..%d",
				ErrUnknownNet, first, last, m.takenNet, m.netBase, m.relayed)
		}
	}
	return nil
}
