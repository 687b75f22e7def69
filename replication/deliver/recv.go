package deliver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// handle is the recipient side of one delivery stream.
func (s *Service) handle(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(s.clock().Add(s.params.StreamTimeout))
	dup, err := s.receive(s.ctx, st.Conn().RemotePeer(), bufio.NewReader(st))
	code := statusOK
	switch {
	case err != nil:
		code = codeOf(err)
		s.count(func(st *Stats) { st.Refused++ })
		s.log.Info("deliver: refused", "peer", st.Conn().RemotePeer(), "err", err)
	case dup:
		code = statusDuplicate
		s.count(func(st *Stats) { st.Duplicates++ })
	default:
		s.count(func(st *Stats) { st.Received++ })
	}
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	_ = writeAnswer(st, code, reason)
}

// receive authenticates and takes one message from remote: the
// certificate first (bounded by MaxCertBytes), the message only after it
// verified, nothing persisted before the checks pass.
func (s *Service) receive(ctx context.Context, remote peer.ID, r *bufio.Reader) (dup bool, err error) {
	if !s.peerRate.Allow(remote, s.clock()) {
		return false, fmt.Errorf("%w: streams from %s", ErrRateLimited, remote)
	}
	raw, err := readFrame(r, MaxCertBytes)
	if err != nil {
		return false, err
	}
	cert, err := dht.UnmarshalOwnerCert(raw)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	if err := cert.Verify(s.clock()); err != nil {
		return false, fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	if cert.Clone != remote {
		return false, fmt.Errorf("%w: it names clone %s, the stream is from %s", ErrBadCert, cert.Clone, remote)
	}
	body, err := readFrame(r, inbox.MaxMessageBytes)
	if err != nil {
		return false, err
	}
	if !s.userBytes.AllowN(cert.User, float64(len(body)), s.clock()) {
		return false, fmt.Errorf("%w: bytes from user %s", ErrRateLimited, cert.User)
	}
	m, err := inbox.UnmarshalMessage(body)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch {
	case !bytes.Equal(m.From, []byte(cert.User)):
		return false, fmt.Errorf("%w: certificate of %s", ErrForgedSender, cert.User)
	case !bytes.Equal(m.To, []byte(s.cert.User)) || (m.ToDevice != "" && m.ToDevice != s.cert.Device):
		return false, fmt.Errorf("%w: this clone serves %s/%s", ErrNotRecipient, s.cert.User, s.cert.Device)
	}
	key := datastore.NewKey(Namespace + "/seen/" + hex.EncodeToString(m.From) + "/" + hex.EncodeToString(m.ID[:]))
	// Marked before the seen check: two streams of one message (a retry
	// beside a slow first attempt) could otherwise both find it unseen and
	// relay it twice.
	if !s.begin(key.String()) {
		return false, fmt.Errorf("%w: this message is being received on another stream", ErrUnavailable)
	}
	defer s.end(key.String())
	if ok, err := s.ds.Has(ctx, key); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else if ok {
		return true, nil
	}
	mirror := s.mirrorOf()
	if mirror == nil {
		return false, fmt.Errorf("%w: mirror not started", ErrUnavailable)
	}
	if err := s.pullLinked(ctx, remote, cert, m); err != nil {
		return false, err
	}
	if err := mirror.Relay(ctx, inbox.Name, body); err != nil {
		return false, fmt.Errorf("%w: relay: %w", ErrUnavailable, err)
	}
	if err := s.ds.Put(ctx, key, nil); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := s.ds.Sync(ctx, key); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return false, nil
}

// begin marks message key as being received, unless it already is.
func (s *Service) begin(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.receiving[key] {
		return false
	}
	if s.receiving == nil {
		s.receiving = map[string]bool{}
	}
	s.receiving[key] = true
	return true
}

func (s *Service) end(key string) {
	s.mu.Lock()
	delete(s.receiving, key)
	s.mu.Unlock()
}

// pullLinked gets the blocks of the message's linked files from the
// sender's clone (remote) into this clone's store before the message is
// relayed, so that the mirror holds what its inbox names. Each block is
// verified as it arrives; a pull cut short resumes at the sender's retry.
// The sending user's blob bytes, and those of every sender, are charged
// first.
func (s *Service) pullLinked(ctx context.Context, remote peer.ID, cert *dht.OwnerCert, m *inbox.Message) error {
	var total float64
	for _, f := range m.Linked {
		if f.Ref.Size > blobxfer.MaxBlobBytes {
			return fmt.Errorf("%w: linked file of %d bytes, cap %d", ErrTooLarge, f.Ref.Size, blobxfer.MaxBlobBytes)
		}
		if s.blobs.Complete(f.Ref) != nil {
			total += float64(f.Ref.Size)
		}
	}
	if total > 0 && !s.blobBytes.AllowN(cert.User, total, s.clock()) {
		return fmt.Errorf("%w: blob bytes from user %s", ErrRateLimited, cert.User)
	}
	if total > 0 && !s.allBlobs.AllowN(struct{}{}, total, s.clock()) {
		return fmt.Errorf("%w: blob bytes from every sender", ErrRateLimited)
	}
	for _, f := range m.Linked {
		pctx, cancel := context.WithTimeout(ctx, s.params.PullTimeout)
		st, err := s.pull(pctx, s.h, remote, s.cert, f.Ref, s.blobs, nil)
		cancel()
		s.count(func(x *Stats) { x.PulledBytes += uint64(st.BlockBytes) })
		if err != nil {
			return fmt.Errorf("%w: pull %s from the sender's clone: %w", ErrUnavailable, f.Name, err)
		}
	}
	return nil
}

// pullFunc is blobxfer.PullAs's shape (the fuzz test plugs in one that
// reaches no network).
type pullFunc func(ctx context.Context, h host.Host, from peer.ID, cert *dht.OwnerCert, ref boxostore.Ref, dst *boxostore.Store, progress func(done, total uint64)) (blobxfer.Stats, error)
