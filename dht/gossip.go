package dht

import (
	"context"
	"errors"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Record gossip: publishers send signed records on Topic; providers
// validate them with the directory validator and store them.

// gossip sends a record to the providers' topic; failure is only logged,
// because the DHT put, republish and anti-entropy cover for it.
func (d *Directory) gossip(ctx context.Context, key string, raw []byte) {
	if d.topic == nil {
		return
	}
	msg, err := encodePair(key, raw)
	if err == nil {
		err = d.topic.Publish(ctx, msg)
	}
	if err != nil {
		d.log.Warn("gossip publish failed", "key", key, "err", err)
	}
}

// validateGossip rejects anything the validator rejects (so the sender is
// scored down) and ignores valid records a provider already has.
func (d *Directory) validateGossip(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	key, raw, err := decodePair(msg.GetData())
	if err == nil {
		err = d.val.Validate(key, raw)
	}
	if err != nil {
		d.log.Debug("gossip rejected", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if d.opts.replica && !d.store.supersedes(key, raw) {
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationAccept
}

// consumeGossip stores every accepted record into the replica.
func (d *Directory) consumeGossip(ctx context.Context, sub *pubsub.Subscription) {
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			return
		}
		key, raw, err := decodePair(msg.GetData())
		if err != nil {
			continue // cannot happen: the topic validator decoded it
		}
		changed, err := d.store.put(ctx, key, raw, false)
		switch {
		case err == nil && changed:
			d.stats.gossipStored.Add(1)
		case err != nil && !errors.Is(err, ErrStaleSeq):
			d.log.Debug("gossip record not stored", "key", key, "err", err)
		}
	}
}

// replicaPeers are the configured providers plus every peer known to be
// subscribed to the record topic (only providers subscribe), without self.
func (d *Directory) replicaPeers() []peer.ID {
	seen := map[peer.ID]bool{d.h.ID(): true}
	var out []peer.ID
	add := func(ids []peer.ID) {
		for _, p := range ids {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	add(d.opts.providers)
	if d.ps != nil {
		add(d.ps.ListPeers(Topic))
	}
	return out
}
