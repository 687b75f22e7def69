package replication

import "fmt"

// resyncState is a running resync: requested, then offered, then fetching.
type resyncState struct {
	div        Divergence
	causeRoots []Hash // the mirror's roots after the diverging batch
	askedAt    Time
	offer      *Offer
	differ     []int        // indices of the apps whose roots differ
	mine       *MemStore    // the mirror's own state chunks, exported for the diff
	fetched    *MemStore    // chunks fetched from the device
	want       map[Hash]int // chunk -> app, still to fetch
	order      []Hash       // the same, in request order (for a retry)
	report     ResyncReport
}

// startResync drops the queued batches (they would replay on a wrong
// state: the offer covers them) and asks the device to freeze and offer.
func (m *Mirror) startResync(now Time, batch uint64, cause error) {
	m.queue = nil
	m.resync = &resyncState{div: Divergence{Batch: batch, Cause: cause}, askedAt: now}
	m.ready.Resync = &ResyncRequest{Number: batch, Cause: cause}
	if cause != ErrEnrol {
		m.stats.Divergences++
		m.ready.Notices = append(m.ready.Notices, Notice{Kind: NoticeDivergence, Batch: batch, Err: cause})
	}
}

// retryResync asks again for what has not come after ResyncRetry: the
// offer, or the chunks still wanted.
func (m *Mirror) retryResync(now Time) {
	rs := m.resync
	if now.Sub(rs.askedAt) < m.cfg.Params.ResyncRetry {
		return
	}
	rs.askedAt = now
	if rs.offer == nil {
		m.ready.Resync = &ResyncRequest{Number: rs.div.Batch, Cause: rs.div.Cause}
		return
	}
	for _, h := range rs.order {
		if _, ok := rs.want[h]; ok {
			m.ready.Want = append(m.ready.Want, h)
		}
	}
}

// HandleOffer takes the frozen device's offer: after its checks (structure,
// device, epoch, signature; ErrStaleOffer if it does not cover every batch
// taken; ErrStateMismatch if its manifests do not hash to its state hash) it
// compares every app's manifest with the mirror's own and wants the chunks
// the mirror lacks (Ready.Want).
func (m *Mirror) HandleOffer(now Time, p []byte) error {
	rs := m.resync
	if rs == nil {
		return m.refuse(0, ErrNotResyncing)
	}
	o, err := DecodeOffer(p)
	if err != nil {
		return m.refuse(0, err)
	}
	if err := m.authentic(o.Device, o.Epoch); err != nil {
		return m.refuse(o.Number, err)
	}
	if err := o.VerifySig(m.pub); err != nil {
		return m.refuse(o.Number, err)
	}
	if rs.offer != nil {
		if string(rs.offer.raw) == string(o.raw) {
			return nil // the device answered a retry
		}
		return m.refuse(o.Number, fmt.Errorf("%w: a second, different offer", ErrStaleOffer))
	}
	if o.Number+1 < m.next {
		return m.refuse(o.Number, fmt.Errorf("%w: offer at batch %d, taken through %d", ErrStaleOffer, o.Number, m.next-1))
	}
	if len(o.Apps) != len(m.apps.apps) {
		return m.refuse(o.Number, fmt.Errorf("%w: offer has %d apps, epoch %d", ErrUnknownApp, len(o.Apps), len(m.apps.apps)))
	}
	roots := make([]Hash, len(o.Apps))
	for i, man := range o.Apps {
		roots[i] = man.Root()
	}
	if StateHash(m.apps.names, roots) != o.StateHash {
		return m.refuse(o.Number, fmt.Errorf("%w: offer manifests do not hash to its state hash", ErrStateMismatch))
	}
	rs.offer, rs.askedAt, rs.differ, rs.div.Apps, rs.order, rs.report.Repaired = o, now, nil, nil, nil, nil
	rs.mine, rs.fetched, rs.want = NewMemStore(), NewMemStore(), map[Hash]int{}
	rs.report.OfferBytes = len(p)
	m.stats.OfferBytes += uint64(len(p))
	for i, a := range m.apps.apps {
		if rs.causeRoots != nil && o.CauseBatch == rs.div.Batch && len(o.CauseRoots) == len(roots) &&
			rs.causeRoots[i] != o.CauseRoots[i] {
			rs.div.Apps = append(rs.div.Apps, m.apps.names[i])
		}
		if a.Root() == roots[i] {
			continue
		}
		rs.differ = append(rs.differ, i)
		rs.report.Repaired = append(rs.report.Repaired, m.apps.names[i])
		if _, err := a.Export(rs.mine); err != nil {
			return fmt.Errorf("resync: %w", err)
		}
	}
	for _, i := range rs.differ {
		for _, h := range o.Apps[i] {
			m.wantChunk(h, i)
		}
	}
	return m.maybeFinish(now)
}

// wantChunk asks for h unless the mirror holds it or already asked.
func (m *Mirror) wantChunk(h Hash, app int) {
	rs := m.resync
	if h.IsZero() {
		return
	}
	if _, ok := rs.want[h]; ok {
		return
	}
	if ok, _ := rs.mine.Has(h); ok {
		return
	}
	if ok, _ := rs.fetched.Has(h); ok {
		return
	}
	if ok, _ := m.cfg.Store.Has(h); ok {
		return
	}
	rs.want[h] = app
	rs.order = append(rs.order, h)
	m.ready.Want = append(m.ready.Want, h)
}

// HandleChunk takes a chunk from the device: a payload chunk of a taken
// batch, or a state chunk the running resync wants. Its hash is its
// address, so it verifies against the batch or the offer that named it.
// Anything else is refused with ErrUnwantedChunk (unless the store already
// holds it).
func (m *Mirror) HandleChunk(now Time, data []byte) error {
	h := HashChunk(data)
	if size, ok := m.wantPayload[h]; ok && size == len(data) {
		delete(m.wantPayload, h)
		if _, err := m.cfg.Store.Put(append([]byte(nil), data...)); err != nil {
			return fmt.Errorf("store payload chunk: %w", err)
		}
		return nil
	}
	if rs := m.resync; rs != nil && rs.want != nil {
		if app, ok := rs.want[h]; ok {
			return m.takeStateChunk(now, h, app, data)
		}
	}
	if ok, _ := m.cfg.Store.Has(h); ok {
		return nil
	}
	if m.resync != nil {
		m.stats.Superseded++
		return nil // a payload of a batch the resync dropped
	}
	return m.refuse(0, fmt.Errorf("%w: %v (%d bytes)", ErrUnwantedChunk, h, len(data)))
}

func (m *Mirror) takeStateChunk(now Time, h Hash, app int, data []byte) error {
	rs := m.resync
	if len(data) > MaxChunkBytes {
		return m.refuse(0, fmt.Errorf("%w: chunk of %d bytes", ErrTooLarge, len(data)))
	}
	links, err := m.apps.apps[app].Links(data)
	if err != nil {
		return m.refuse(0, fmt.Errorf("%w: chunk %v: %w", ErrMalformed, h, err))
	}
	delete(rs.want, h)
	if _, err := rs.fetched.Put(append([]byte(nil), data...)); err != nil {
		return err
	}
	rs.report.Chunks++
	rs.report.ChunkBytes += len(data)
	m.stats.ResyncChunks++
	m.stats.ResyncBytes += uint64(len(data))
	for _, l := range links {
		m.wantChunk(l, app)
	}
	return m.maybeFinish(now)
}
