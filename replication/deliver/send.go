package deliver

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

const outboxSend = outbox.OutputSend

// Deliver sends one encoded message to the clone at to, authenticated by
// from (the sender clone's owner certificate; h must be that clone), and
// returns whether the recipient had it already. A refusal is a *Refusal.
func Deliver(ctx context.Context, h host.Host, from *dht.OwnerCert, to peer.AddrInfo, msg []byte, timeout time.Duration) (dup bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cert, err := from.Marshal()
	if err != nil {
		return false, err
	}
	if len(to.Addrs) > 0 {
		h.Peerstore().AddAddrs(to.ID, to.Addrs, time.Hour)
	}
	st, err := h.NewStream(ctx, to.ID, Protocol)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := writeFrame(st, cert); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := writeFrame(st, msg); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	_ = st.CloseWrite()
	return readAnswer(bufio.NewReader(st))
}

// job is the delivery of one request to one of its recipients.
type job struct {
	id      [32]byte
	to      int
	attempt int
	due     time.Time
	busy    bool
}

type result struct {
	j   *job
	err error
}

func jobKey(id [32]byte, to int) string { return hex.EncodeToString(id[:]) + "/" + strconv.Itoa(to) }

func doneKey(k string) datastore.Key { return datastore.NewKey(Namespace + "/sent/" + k) }

// loop owns the jobs: it starts due ones (Parallel at most), hears their
// results and schedules retries.
func (s *Service) loop() {
	defer s.wg.Done()
	jobs := map[string]*job{}
	results := make(chan result, s.params.Parallel)
	inflight := 0
	s.scanAll(jobs)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		var next time.Time
		for _, j := range jobs {
			if j.busy {
				continue
			}
			if !j.due.After(now) && inflight < s.params.Parallel {
				j.busy = true
				inflight++
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					results <- result{j, s.attempt(j)}
				}()
				continue
			}
			if next.IsZero() || j.due.Before(next) {
				next = j.due
			}
		}
		s.count(func(st *Stats) { st.Pending = len(jobs) })
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case id := <-s.kick:
			s.add(jobs, id)
		case <-s.scan:
			s.scanAll(jobs)
		case r := <-results:
			inflight--
			s.finish(jobs, r)
		case <-timer.C:
		}
	}
}

func (s *Service) finish(jobs map[string]*job, r result) {
	j := r.j
	j.busy = false
	k := jobKey(j.id, j.to)
	var ref *Refusal
	switch {
	case r.err == nil:
		s.count(func(st *Stats) { st.Sent++ })
	case errors.As(r.err, &ref) && ref.Permanent():
		s.count(func(st *Stats) { st.Failed++ })
		s.log.Warn("deliver: refused for good", "request", k, "err", r.err)
	default:
		d := s.params.RetryMin
		for i := 0; i < j.attempt && d < s.params.RetryMax; i++ {
			d *= 2
		}
		j.attempt++
		j.due = time.Now().Add(min(d, s.params.RetryMax))
		s.log.Info("deliver: will retry", "request", k, "attempt", j.attempt, "in", min(d, s.params.RetryMax), "err", r.err)
		return
	}
	if err := s.ds.Put(s.ctx, doneKey(k), []byte{0}); err == nil {
		_ = s.ds.Sync(s.ctx, doneKey(k))
	}
	delete(jobs, k)
}

// add queues every recipient of request id not acknowledged yet.
func (s *Service) add(jobs map[string]*job, id [32]byte) {
	var sent *outbox.Sent
	if err := s.view(func(a *outbox.App) { sent, _ = a.Get(id) }); err != nil || sent == nil {
		s.log.Warn("deliver: an outbox request the mirror replayed is not in its outbox", "request", hex.EncodeToString(id[:]), "err", err)
		return
	}
	s.queue(jobs, sent)
}

// scanAll queues every recorded request's unacknowledged recipients.
func (s *Service) scanAll(jobs map[string]*job) {
	var all []*outbox.Sent
	if err := s.view(func(a *outbox.App) { all = a.List() }); err != nil {
		s.log.Debug("deliver: no outbox to scan yet", "err", err)
		return
	}
	for _, sent := range all {
		s.queue(jobs, sent)
	}
}

func (s *Service) queue(jobs map[string]*job, sent *outbox.Sent) {
	for i := range sent.To {
		k := jobKey(sent.ID, i)
		if _, ok := jobs[k]; ok {
			continue
		}
		if ok, _ := s.ds.Has(s.ctx, doneKey(k)); ok {
			continue
		}
		jobs[k] = &job{id: sent.ID, to: i, due: time.Now()}
	}
}

// view runs f on the mirror's outbox app (an error if the mirror has none yet).
func (s *Service) view(f func(*outbox.App)) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
	defer cancel()
	found := false
	err := s.mirror.View(ctx, func(set *replication.AppSet) {
		if set == nil {
			return
		}
		if a, ok := set.App(outbox.Name); ok {
			found = true
			f(a.(*outbox.App))
		}
	})
	if err == nil && !found {
		err = errors.New("deliver: the mirror has no outbox")
	}
	return err
}

// attempt delivers request j.id to recipient j.to: to the device it names,
// or to every device in the user's index; each device acknowledged is kept.
func (s *Service) attempt(j *job) error {
	s.count(func(st *Stats) {
		st.Attempts++
		if j.attempt > 0 {
			st.Retries++
		}
	})
	var sent *outbox.Sent
	if err := s.view(func(a *outbox.App) { sent, _ = a.Get(j.id) }); err != nil || sent == nil {
		return fmt.Errorf("%w: request not in the outbox (%v)", ErrUnavailable, err)
	}
	to := sent.To[j.to]
	user, err := peer.IDFromBytes(to.User)
	if err != nil {
		return &Refusal{Code: statusNotRecipient, Reason: "recipient is not a user ID"}
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.params.StreamTimeout)
	defer cancel()
	devices := []string{to.Device}
	if to.Device == "" {
		idx, err := s.dir.Devices(ctx, user)
		if err != nil {
			return fmt.Errorf("%w: devices of %s: %w", ErrUnavailable, user, err)
		}
		devices = idx.Devices
	}
	m := &inbox.Message{ID: sent.ID, From: []byte(s.cert.User), FromDevice: s.cert.Device, To: to.User,
		ToDevice: to.Device, Sent: sent.Time, Text: sent.Text}
	// Files go by reference: the recipient's clone pulls their blocks from
	// this clone (blobxfer; Authorize lets it), so the message stays small
	// whatever their size.
	for _, f := range sent.Files {
		if err := s.blobs.Complete(f.Ref); err != nil {
			return fmt.Errorf("%w: attachment %s: %w", ErrUnavailable, f.Name, err)
		}
		m.Linked = append(m.Linked, f)
	}
	if m.Size() > inbox.MaxMessageBytes {
		return &Refusal{Code: statusTooLarge, Reason: fmt.Sprintf("message of %d bytes", m.Size())}
	}
	body := m.Marshal()
	for _, dev := range devices {
		k := doneKey(jobKey(j.id, j.to) + "/" + hex.EncodeToString([]byte(dev)))
		if ok, _ := s.ds.Has(ctx, k); ok {
			continue
		}
		cert, err := s.dir.Lookup(ctx, user, dev)
		if err != nil {
			return fmt.Errorf("%w: lookup %s/%s: %w", ErrUnavailable, user, dev, err)
		}
		if err := cert.Verify(s.clock()); err != nil || cert.User != user {
			return fmt.Errorf("%w: certificate of %s/%s: %v", ErrUnavailable, user, dev, err)
		}
		ai := peer.AddrInfo{ID: cert.Clone, Addrs: cert.Addrs}
		if r, err := s.dir.Resolve(ctx, cert.Clone); err == nil {
			ai.Addrs = append(ai.Addrs, r.Addrs...)
		}
		if _, err := Deliver(ctx, s.h, s.cert, ai, body, s.params.StreamTimeout); err != nil {
			var ref *Refusal
			if errors.As(err, &ref) && ref.Permanent() {
				s.report(ctx, j, dev, outbox.Refused, ref.Reason)
			}
			return err
		}
		s.report(ctx, j, dev, outbox.Delivered, "")
		_ = s.ds.Put(ctx, k, []byte{0})
	}
	return nil
}

// report tells the mirror (and so the device) what became of j for one
// device. A report lost in a crash is made again: the delivery is retried,
// answered as a duplicate, and the outbox keeps one status per device.
func (s *Service) report(ctx context.Context, j *job, dev string, state byte, reason string) {
	if len(reason) > 512 {
		reason = reason[:512]
	}
	if err := s.mirrorOf().Relay(ctx, outbox.Name, outbox.Status(j.id, j.to, dev, state, reason)); err != nil {
		s.log.Info("deliver: status not relayed to the mirror", "err", err)
	}
}

// Authorize is the blobxfer.Authorizer of the clone's blob server: the
// clone that cert names may pull ref only if one of the outbox's requests
// names ref and has cert's user (and device, if it names one) among its
// recipients.
func (s *Service) Authorize(_ context.Context, cert *dht.OwnerCert, ref boxostore.Ref) bool {
	if s.mirrorOf() == nil {
		return false
	}
	ok := false
	err := s.view(func(a *outbox.App) {
		for _, sent := range a.List() {
			if !names(sent, ref) {
				continue
			}
			for _, to := range sent.To {
				if string(to.User) == string(cert.User) && (to.Device == "" || to.Device == cert.Device) {
					ok = true
					return
				}
			}
		}
	})
	return err == nil && ok
}

func names(sent *outbox.Sent, ref boxostore.Ref) bool {
	for _, f := range sent.Files {
		if f.Ref == ref {
			return true
		}
	}
	return false
}
