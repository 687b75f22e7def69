package replication

import "fmt"

// maybeFinish imports the differing apps once every wanted chunk is in,
// takes the offer's chain and positions, and tells the device it may go on.
// An import that fails (an app bug: the chunks verified) leaves the resync
// running; the retry asks for a fresh offer.
func (m *Mirror) maybeFinish(now Time) error {
	rs := m.resync
	if len(rs.want) > 0 {
		return nil
	}
	o := rs.offer
	src := overlay{rs.fetched, overlay{rs.mine, m.cfg.Store}}
	for _, i := range rs.differ {
		if err := m.apps.importApp(i, o.Apps[i], src); err != nil {
			rs.offer, rs.askedAt = nil, now-Time(m.cfg.Params.ResyncRetry.Milliseconds())
			return m.refuse(o.Number, err)
		}
	}
	if m.apps.StateHash() != o.StateHash {
		rs.offer, rs.askedAt = nil, now-Time(m.cfg.Params.ResyncRetry.Milliseconds())
		return m.refuse(o.Number, fmt.Errorf("%w: state after import", ErrImport))
	}
	rs.report.StateBytes = stateBytes(m.apps, o.Apps, src)
	m.next, m.chain, m.nextSeq, m.takenNet = o.Number+1, o.Chain, o.NextSeq, o.LastNet
	m.evictNet(o.LastNet)
	m.queue = nil
	rs.report.Divergence, rs.report.Number = rs.div, o.Number
	rep := rs.report
	m.resync = nil
	m.stats.Resyncs++
	m.ready.Done = &ResyncDone{Number: o.Number}
	m.ready.Notices = append(m.ready.Notices, Notice{Kind: NoticeResynced, Batch: rep.Batch, Err: rep.Cause, Resync: &rep})
	return nil
}

// stateBytes sums the sizes of every chunk of the state: the manifests'
// leaves and whatever they link to.
func stateBytes(apps *AppSet, ms []Manifest, src ChunkReader) int {
	total := 0
	seen := map[Hash]bool{}
	for i, man := range ms {
		stack := append([]Hash(nil), man...)
		for len(stack) > 0 {
			h := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if h.IsZero() || seen[h] {
				continue
			}
			seen[h] = true
			b, err := src.Get(h)
			if err != nil {
				continue
			}
			total += len(b)
			links, _ := apps.apps[i].Links(b)
			stack = append(stack, links...)
		}
	}
	return total
}
