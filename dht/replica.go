package dht

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/internal/guard"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// Provider replicas: anti-entropy over SyncProtocol and lookups over
// GetProtocol (gossip is in gossip.go).

func (d *Directory) streamDeadline(s network.Stream) {
	_ = s.SetDeadline(time.Now().Add(d.opts.params.RequestTimeout))
}

// handleGet answers one get request from this node's store.
func (d *Directory) handleGet(s network.Stream) {
	defer s.Close()
	d.streamDeadline(s)
	req, err := readFrame(bufio.NewReader(s), MaxKeySize)
	if err != nil {
		_ = s.Reset()
		return
	}
	key := string(req)
	raw, err := d.store.get(d.ctx, key)
	if err != nil {
		if raw = d.adoptKadRecord(key); raw == nil {
			raw = d.repair(s.Conn().RemotePeer(), key)
		}
	}
	if raw != nil {
		d.stats.replicaGetServed.Add(1)
	}
	if err := writeFrame(s, encodeGetResponse(raw)); err != nil {
		_ = s.Reset()
	}
}

// adoptKadRecord answers a miss on a provider from the records peers put
// to it over kad-dht (WithKadStore), keeping the one it finds in the
// replica once it validates; nil when there is none or it does not.
func (d *Directory) adoptKadRecord(key string) []byte {
	if d.kadRecords == nil {
		return nil
	}
	rec, err := d.kadRecords.Get(d.ctx, key)
	if err != nil || rec == nil {
		return nil
	}
	raw := rec.GetValue()
	if _, err := d.store.put(d.ctx, key, raw, false); err != nil {
		d.log.Debug("kad-dht record not adopted", "key", key, "err", err)
		return nil
	}
	d.stats.kadAdopted.Add(1)
	return raw
}

// repairRate bounds, for the whole provider, the misses it asks the other
// providers about: a stranger asking for random keys costs each of them at
// most this many requests a second.
var repairRate = guard.Rate{PerSecond: 20, Burst: 20}

// repair answers a miss on a provider from the other providers' replicas
// and keeps what it finds (nil: nobody has it). A record gossiped while
// the providers' gossipsub mesh was still forming reaches only some of
// them; without this, a device asking another would get "not found"
// until the next anti-entropy pull (ReplicaSyncInterval). A provider's
// own miss is not forwarded again, so providers never ask in circles.
func (d *Directory) repair(from peer.ID, key string) []byte {
	if d.repairRate == nil || !d.repairRate.Allow(struct{}{}, d.opts.now()) {
		return nil
	}
	peers := d.replicaPeers()
	for _, p := range peers {
		if p == from {
			return nil // a provider's own repair: answer from the store only
		}
	}
	for _, p := range peers {
		raw, err := d.getFrom(d.ctx, p, key)
		if err != nil || raw == nil {
			continue
		}
		if _, err := d.store.put(d.ctx, key, raw, false); err != nil && !errors.Is(err, ErrStaleSeq) {
			d.log.Debug("repaired record not stored", "key", key, "err", err)
		}
		d.stats.replicaRepaired.Add(1)
		return raw
	}
	return nil
}

// getFrom asks one peer for key over GetProtocol and validates the answer.
func (d *Directory) getFrom(ctx context.Context, p peer.ID, key string) ([]byte, error) {
	return getRecord(ctx, d.h, d.val, d.opts.params.RequestTimeout, p, key)
}

// getRecord asks p for key over GetProtocol, within timeout, and validates
// the answer with val.
func getRecord(ctx context.Context, h host.Host, val *Validator, timeout time.Duration, p peer.ID, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, GetProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(timeout))
	if err := writeFrame(s, []byte(key)); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	resp, err := readFrame(bufio.NewReader(s), maxFrame)
	if err != nil {
		_ = s.Reset()
		return nil, err
	}
	raw, err := decodeGetResponse(resp)
	if err != nil {
		return nil, err
	}
	if err := val.Validate(key, raw); err != nil {
		return nil, fmt.Errorf("provider %s sent an invalid record: %w", p, err)
	}
	return raw, nil
}

// fromReplicas asks the local replica (on a provider) and every configured
// provider in parallel, and returns the best valid answer: a provider can
// hide a record, never forge one, so the newest valid one wins.
func (d *Directory) fromReplicas(ctx context.Context, key string) ([]byte, error) {
	var (
		mu     sync.Mutex
		vals   [][]byte
		errs   []error
		wg     sync.WaitGroup
		asked  int
		answer = func(v []byte, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			vals = append(vals, v)
		}
	)
	if d.opts.replica {
		answer(d.store.get(ctx, key))
		asked++
	}
	for _, p := range d.replicaPeers() {
		asked++
		wg.Add(1)
		go func() {
			defer wg.Done()
			answer(d.getFrom(ctx, p, key))
		}()
	}
	wg.Wait()
	if len(vals) == 0 {
		if asked == 0 {
			return nil, errors.New("no providers configured")
		}
		return nil, errors.Join(errs...)
	}
	i, err := d.val.Select(key, vals)
	if err != nil {
		return nil, err
	}
	return vals[i], nil
}

// handleSync is the responder side of anti-entropy: read the initiator's
// summaries (terminated by an empty frame), then send every held record
// the initiator lacks or holds an older version of, then an empty frame.
func (d *Directory) handleSync(s network.Stream) {
	defer s.Close()
	d.streamDeadline(s)
	// Only summaries of records we hold matter, so only those are kept:
	// the initiator's list costs memory in proportion to our store, not
	// to what it sends.
	ours := d.store.summaries()
	held := make(map[string]bool, len(ours))
	for _, m := range ours {
		held[m.Key] = true
	}
	theirs, err := readSummaries(bufio.NewReader(s), d.opts.params.MaxSyncEntries, func(k string) bool { return held[k] })
	if err != nil {
		_ = s.Reset()
		return
	}
	w := bufio.NewWriter(s)
	for _, mine := range ours {
		if t, ok := theirs[mine.Key]; ok && !summaryLess(t, mine.summary) {
			continue
		}
		raw, err := d.store.get(d.ctx, mine.Key)
		if err != nil {
			continue // expired or gone since the snapshot
		}
		pair, err := encodePair(mine.Key, raw)
		if err == nil {
			err = writeFrame(w, pair)
		}
		if err != nil {
			_ = s.Reset()
			return
		}
	}
	if err := writeFrame(w, nil); err != nil || w.Flush() != nil {
		_ = s.Reset()
	}
}

// syncFrom pulls from p every record p holds that is newer than ours or
// missing here. It returns how many records it stored.
func (d *Directory) syncFrom(ctx context.Context, p peer.ID) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.params.RequestTimeout)
	defer cancel()
	s, err := d.h.NewStream(ctx, p, SyncProtocol)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	d.streamDeadline(s)
	w := bufio.NewWriter(s)
	for _, ks := range d.store.summaries() {
		f, err := encodeSummary(ks)
		if err == nil {
			err = writeFrame(w, f)
		}
		if err != nil {
			_ = s.Reset()
			return 0, err
		}
	}
	if err := writeFrame(w, nil); err != nil || w.Flush() != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("dht: sync %s: write failed", p)
	}
	_ = s.CloseWrite()
	r := bufio.NewReader(s)
	stored := 0
	for {
		f, err := readFrame(r, maxFrame)
		if errors.Is(err, io.EOF) {
			return stored, fmt.Errorf("%w: sync stream ended without terminator", ErrMalformed)
		}
		if err != nil {
			_ = s.Reset()
			return stored, err
		}
		if len(f) == 0 {
			return stored, nil
		}
		key, raw, err := decodePair(f)
		if err != nil {
			_ = s.Reset()
			return stored, err
		}
		changed, err := d.store.put(ctx, key, raw, false)
		if err != nil && !errors.Is(err, ErrStaleSeq) {
			d.log.Debug("sync record refused", "from", p, "key", key, "err", err)
		}
		if changed {
			stored++
			d.stats.syncPulled.Add(1)
		}
	}
}

// readSummaries reads anti-entropy summaries up to the empty terminator
// frame, refusing more than max entries and keeping only those whose key
// passes keep.
func readSummaries(r bounded.Reader, max int, keep func(key string) bool) (map[string]summary, error) {
	theirs := make(map[string]summary)
	n := 0
	for {
		f, err := readFrame(r, maxFrame)
		if err != nil {
			return nil, err
		}
		if len(f) == 0 {
			return theirs, nil
		}
		ks, err := decodeSummary(f)
		if err != nil {
			return nil, err
		}
		if n++; n > max {
			return nil, fmt.Errorf("%w: more than %d sync entries", ErrTooLarge, max)
		}
		if keep(ks.Key) {
			theirs[ks.Key] = ks.summary
		}
	}
}

// Hold stores a clone's record, validated as gossip is, in this
// provider's replica, without the network: a provider hosting the clone in
// its own process (package clonehost) holds each hosted clone's records
// once published, so lookups that fall back to the replicas find them even
// when a gossip publish timed out under load; anti-entropy carries them to
// the other providers. It returns ErrInvalidParams on a node without a
// replica.
func (d *Directory) Hold(ctx context.Context, c *OwnerCert, idx *DeviceIndex) error {
	if !d.opts.replica {
		return fmt.Errorf("%w: Hold needs a provider's replica", ErrInvalidParams)
	}
	raw, err := c.Marshal()
	if err != nil {
		return err
	}
	if _, err := d.store.put(ctx, c.Key(), raw, false); err != nil && !errors.Is(err, ErrStaleSeq) {
		return err
	}
	if idx == nil {
		return nil
	}
	if raw, err = idx.Marshal(); err != nil {
		return err
	}
	if _, err := d.store.put(ctx, idx.Key(), raw, false); err != nil && !errors.Is(err, ErrStaleSeq) {
		return err
	}
	return nil
}

// HoldAddrs makes this provider answer for the addresses of clone, a
// clone it hosts in its own process, whether or not the two are
// connected: kad-dht's FIND_PEER names any peer the peerstore holds
// addresses for, and ResolveProtocol answers from it too. An idle hosted
// clone holds no connection at all (node Params.IdleConnTimeout), so
// without this nobody could find it. Release undoes it when the clone
// stops.
func (d *Directory) HoldAddrs(clone peer.ID, addrs []ma.Multiaddr) {
	d.h.Peerstore().AddAddrs(clone, addrs, peerstore.PermanentAddrTTL)
}

// Release forgets the addresses HoldAddrs held for clone.
func (d *Directory) Release(clone peer.ID) {
	d.h.Peerstore().ClearAddrs(clone)
}
