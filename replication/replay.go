package replication

// Tick replays, in order, every taken batch whose time has come: a batch
// closed at End replays at End+t_max, or at once if it arrived later. A batch
// whose payload chunks have not arrived waits, and so do those after it.
func (m *Mirror) Tick(now Time) {
	if m.resync != nil {
		m.retryResync(now)
		return
	}
	for len(m.queue) > 0 && m.resync == nil {
		q := m.queue[0]
		if q.due > now || !m.havePayloads(q.b) {
			break
		}
		m.queue[0] = queued{}
		m.queue = m.queue[1:]
		if now > q.due {
			m.stats.Late++
		}
		m.replay(q.b, now)
	}
}

func (m *Mirror) havePayloads(b *Batch) bool {
	if len(m.wantPayload) == 0 {
		return true
	}
	for i := range b.User {
		if in := &b.User[i]; !in.Ref.IsZero() {
			if _, missing := m.wantPayload[in.Ref]; missing {
				return false
			}
		}
	}
	return true
}

// replay merges the batch's user inputs and the cached network inputs in the
// device's order, applies them, and compares the state hash.
func (m *Mirror) replay(b *Batch, now Time) {
	ev := &m.ev
	ev.Seq = b.FirstSeq
	ui := 0
	for ni := 0; ni <= len(b.Net); ni++ {
		end := len(b.User)
		if ni < len(b.Net) {
			end = b.Net[ni].After
		}
		for ; ui < end; ui++ {
			in := &b.User[ui]
			ev.Time, ev.Source, ev.NetSeq, ev.Ref, ev.Payload = in.Time, User, 0, in.Ref, in.Payload
			if !in.Ref.IsZero() {
				ev.Payload = m.chunk(in.Ref)
			}
			m.apply(in.App, now)
		}
		if ni < len(b.Net) {
			n := &b.Net[ni]
			c := &m.net[n.NetSeq-m.netBase]
			ev.Time, ev.Source, ev.NetSeq, ev.Ref, ev.Payload = n.Time, Network, n.NetSeq, c.ref, c.payload
			if !c.ref.IsZero() {
				ev.Payload = m.chunk(c.ref)
			}
			m.apply(c.app, now)
		}
	}
	ev.Payload = nil
	if len(b.Net) > 0 {
		m.evictNet(b.Net[len(b.Net)-1].NetSeq)
	}
	roots := m.apps.Roots()
	h := StateHash(m.apps.names, roots)
	r := Replayed{Number: b.Number, Events: b.Len(), StateHash: h, Match: h == b.StateHash, At: now}
	if b.Len() > 0 {
		r.MaxLag = now.Sub(firstTime(b))
	}
	m.stats.Batches++
	m.stats.Events += uint64(b.Len())
	m.ready.Replayed = append(m.ready.Replayed, r)
	if !r.Match {
		m.startResync(now, b.Number, ErrStateMismatch)
		m.resync.causeRoots = roots
	}
}

func (m *Mirror) apply(app uint32, now Time) {
	ev := &m.ev
	ev.App = m.apps.names[app]
	outs, err := m.apps.apps[app].Apply(ev)
	if err != nil {
		m.stats.AppErrors++
	}
	if len(outs) > 0 {
		m.ready.Outputs = append(m.ready.Outputs, AppOutput{App: ev.App, Seq: ev.Seq, Outputs: outs})
	}
	m.stats.Lag.Observe(now.Sub(ev.Time))
	ev.Seq++
}

// chunk returns a payload chunk that havePayloads or Relay made sure of; a
// store that lost it since yields an empty payload, and the state hash check
// catches what that changes.
func (m *Mirror) chunk(h Hash) []byte {
	b, err := m.cfg.Store.Get(h)
	if err != nil {
		return nil
	}
	return b
}

func firstTime(b *Batch) Time {
	switch {
	case len(b.User) == 0:
		return b.Net[0].Time
	case len(b.Net) == 0:
		return b.User[0].Time
	}
	return min(b.User[0].Time, b.Net[0].Time)
}
