package netproto

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// TopicScoreParams are the gossipsub score parameters of every CloneDoc
// topic: each message a validator rejects costs its sender heavily (P4,
// invalid message deliveries); the other per-topic terms are off. They
// take effect only on a router built with pubsub.WithPeerScore.
func TopicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation:           true,
		TopicWeight:                    1,
		TimeInMeshQuantum:              time.Second, // unused (weight 0) but divided by
		InvalidMessageDeliveriesWeight: -100,
		InvalidMessageDeliveriesDecay:  0.9,
	}
}

// ScoreTopic applies TopicScoreParams to t. It returns the router's error
// when peer scoring is not enabled, which callers may ignore.
func ScoreTopic(t *pubsub.Topic) error { return t.SetScoreParams(TopicScoreParams()) }
