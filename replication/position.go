package replication

// What the wiring needs to see of the cores: where each side stands, so
// device and mirror agree on the last common batch and seq when they meet,
// and when the next timer is due.

// MirrorPosition is what a mirror has taken.
type MirrorPosition struct {
	Taken    uint64 // the last batch taken (verified and queued or replayed)
	NextSeq  uint64 // the position of the next input it expects
	TakenNet uint64 // the last network input a taken batch consumed
	Relayed  uint64 // the last network input relayed
	Replayed uint64 // the last batch replayed
	Chain    Hash
}

// Position returns what the mirror has taken.
func (m *Mirror) Position() MirrorPosition {
	p := MirrorPosition{Taken: m.next - 1, NextSeq: m.nextSeq, TakenNet: m.takenNet, Relayed: m.relayed, Chain: m.chain}
	p.Replayed = p.Taken - uint64(len(m.queue))
	return p
}

// NetAfter returns the cached network inputs after net seq after, in order,
// at most max of them: those the device has not consumed yet. Payloads share
// the cache's bytes.
func (m *Mirror) NetAfter(after uint64, max int) []NetInput {
	var out []NetInput
	for i := range m.net {
		seq := m.netBase + uint64(i)
		if seq <= after {
			continue
		}
		if len(out) >= max {
			break
		}
		c := &m.net[i]
		p := c.payload
		if !c.ref.IsZero() {
			p = m.chunk(c.ref)
		}
		out = append(out, NetInput{NetSeq: seq, App: m.apps.names[c.app], Payload: p})
	}
	return out
}

// Pending returns the running resync's request and the chunks it still
// wants, to repeat to a device that reconnects; nil when no resync runs.
func (m *Mirror) Pending() (*ResyncRequest, []Hash) {
	rs := m.resync
	if rs == nil {
		return nil, nil
	}
	req := &ResyncRequest{Number: rs.div.Batch, Cause: rs.div.Cause}
	if rs.offer == nil {
		return req, nil
	}
	var want []Hash
	for _, h := range rs.order {
		if _, ok := rs.want[h]; ok {
			want = append(want, h)
		}
	}
	return nil, want
}

// NextDue returns when Tick next has work: the head batch's replay time, or
// the resync's retry; ok is false when nothing waits on time.
func (m *Mirror) NextDue() (at Time, ok bool) {
	if m.resync != nil {
		return m.resync.askedAt.Add(m.cfg.Params.ResyncRetry), true
	}
	if len(m.queue) == 0 || !m.havePayloads(m.queue[0].b) {
		return 0, false
	}
	return m.queue[0].due, true
}

// DevicePosition is what a device has closed and consumed.
type DevicePosition struct {
	Number  uint64 // the last batch closed
	NextSeq uint64 // the position of its next input
	LastNet uint64 // the last network input consumed
	Chain   Hash
}

// Position returns what the device has closed and consumed.
func (d *Device) Position() DevicePosition {
	return DevicePosition{Number: d.number, NextSeq: d.nextSeq, LastNet: d.lastNet, Chain: d.chain}
}

// WindowEnd returns when the open batch closes (Tick at that time closes it).
func (d *Device) WindowEnd() Time { return d.start + d.syn }

// Pending reports whether the open batch holds any input.
func (d *Device) Pending() bool { return d.cur.Len() > 0 }
