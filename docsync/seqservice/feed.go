package seqservice

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/libp2p/go-libp2p/core/network"
)

// feed is one member clone's subscription to a document's entries
// (netproto.FeedProtocol). The loop hands it each durable entry without
// blocking; the stream's handler goroutine writes them, as many as are
// queued per stream write. A feed that falls QueueSize entries behind is
// dropped, and the clone opens a new one from where it stopped.
type feed struct {
	member docsync.MemberID
	ch     chan []byte
	done   chan struct{}
	once   sync.Once
}

func (f *feed) stop() { f.once.Do(func() { close(f.done) }) }

// send queues b; it reports false (and stops the feed) if the queue is full.
func (f *feed) send(b []byte) bool {
	select {
	case f.ch <- b:
		return true
	default:
		f.stop()
		return false
	}
}

// handleFeed serves one member's feed: rate limit, a bounded read of the
// request, the membership check, the entries it has from From (at most
// MaxFeedCatchUp) and then, until either side closes, each new entry.
func (s *Service) handleFeed(st network.Stream) {
	from := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(s.params.StreamTimeout))
	refuse := func(reason string, err error) {
		s.stats.badStreams.Add(1)
		s.refusals.Refuse(from.String(), "feed_"+reason, err)
		_ = st.Reset()
	}
	if !s.historyRate.Allow(from, s.opts.now()) {
		refuse("rate", ErrRateLimited)
		return
	}
	r := bufio.NewReader(st)
	b, err := netproto.ReadFrame(r, netproto.FeedRequestSize)
	if err != nil {
		refuse("malformed", err)
		return
	}
	req, err := netproto.DecodeFeedRequest(b)
	if err != nil {
		refuse("malformed", err)
		return
	}
	seq, ok := s.memberView(req.Doc, from)
	if !ok {
		refuse("not_member", ErrNotMember)
		return
	}
	if err := s.compactedAnswer(req.Doc, req.From); err != nil {
		// Behind our checkpoint: the member's history fetch gets the
		// compacted answer and it joins from a member's snapshot.
		refuse("compacted", err)
		return
	}
	m, _ := netproto.MemberOf(from)
	f := &feed{member: m, ch: make(chan []byte, s.params.QueueSize), done: make(chan struct{})}
	var cur uint64
	open := false
	err = s.do(s.ctx, func() {
		d := s.docs[req.Doc]
		if d == nil {
			return
		}
		if old := d.feeds[m]; old != nil {
			old.stop() // a member has one feed per document: the newest
		}
		d.feeds[m] = f
		cur, open = d.seq.Log().Seq(), true
		s.wg.Add(1) // under the loop, so Close waits for the writer
	})
	if err != nil || !open {
		refuse("closed", err)
		return
	}
	defer s.wg.Done()
	defer s.post(func() {
		if d := s.docs[req.Doc]; d != nil && d.feeds[m] == f {
			delete(d.feeds, m)
		}
	})
	_ = st.SetReadDeadline(time.Time{})
	go func() { // the clone sends nothing more: EOF or an error is its close
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1))
		f.stop()
	}()
	var catchUp [][]byte
	if req.From <= cur {
		to := min(cur, req.From+netproto.MaxFeedCatchUp-1)
		catchUp, err = seq.History(m, req.From, to, func(from, to uint64) [][]byte {
			return s.readRange(req.Doc, from, to, netproto.MaxFeedCatchUp)
		})
		if err != nil {
			_ = st.Reset()
			return
		}
	}
	s.stats.feeds.Add(1)
	defer s.stats.feeds.Add(-1)
	if err := s.writeFeed(st, f, catchUp); err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// writeFeed writes first, then what f queues, one flush per burst.
func (s *Service) writeFeed(st network.Stream, f *feed, first [][]byte) error {
	w := bufio.NewWriter(st)
	flush := func(bs [][]byte) error {
		_ = st.SetWriteDeadline(time.Now().Add(s.params.StreamTimeout))
		for _, b := range bs {
			if err := netproto.WriteFrame(w, b); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	if err := flush(first); err != nil {
		return err
	}
	batch := make([][]byte, 0, 64)
	for {
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-f.done:
			// What was queued before the stop still goes: a removed
			// member gets the entry that removed it.
			batch = batch[:0]
			for len(f.ch) > 0 && len(batch) < cap(batch) {
				batch = append(batch, <-f.ch)
			}
			return flush(batch)
		case b := <-f.ch:
			batch = append(batch[:0], b)
		more:
			for len(batch) < cap(batch) {
				select {
				case b := <-f.ch:
					batch = append(batch, b)
				default:
					break more
				}
			}
			if err := flush(batch); err != nil {
				return err
			}
		}
	}
}

// post runs f on the loop unless the service is closing.
func (s *Service) post(f func()) {
	select {
	case s.reqs <- f:
	case <-s.ctx.Done():
	}
}

// deliver hands a durable entry to the members' feeds it is for, and
// reports which members got it (loop only).
func (d *docState) deliver(dl delivery) map[docsync.MemberID]bool {
	fed := make(map[docsync.MemberID]bool, len(d.feeds))
	for m, f := range d.feeds {
		if dl.to != nil && !dl.to(m) {
			continue
		}
		if f.send(dl.bytes) {
			fed[m] = true
		} else {
			delete(d.feeds, m) // fallen behind: it reconnects from where it is
		}
	}
	return fed
}

// dropFormerMembers stops the feeds of clones that are no longer members
// (loop only).
func (d *docState) dropFormerMembers(roles map[docsync.MemberID]docsync.Role) {
	for m, f := range d.feeds {
		if _, ok := roles[m]; !ok {
			f.stop()
			delete(d.feeds, m)
		}
	}
}
