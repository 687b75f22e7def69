package cloneservice

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what the service did since New.
type Stats struct {
	Committed     uint64 // entries committed
	Submitted     uint64 // envelopes sent to the sequencer (including resends)
	Updates       uint64 // remote edits applied
	Rejected      uint64 // ordered entries that failed a docsync check
	InvalidTopic  uint64 // topic messages rejected by validators
	BadStreams    uint64 // stream messages that failed to decode or were refused
	Fetches       uint64 // history fetches started
	Forks         uint64 // fork alarms raised
	Evidence      uint64 // tamper and forged-seq alarms raised (evidence kept)
	Stalls        uint64 // sequencer-stalled alarms raised
	Stalled       int64  // documents whose stalled alarm is raised now
	Moves         uint64 // moves to another sequencer followed
	Rollbacks     uint64 // takeovers followed by rolling back entries of the previous sequencer
	Recoveries    uint64 // takeovers this clone started from the head every member shares (recover.go)
	Invitations   uint64 // invitations accepted
	Served        uint64 // entries served to peers on history streams
	DroppedEvents uint64 // events a slow subscriber missed
	// RestoreFailures counts stored documents that could not be opened at start.
	RestoreFailures uint64
	// TopicWaits counts sends that gave up waiting for the sequencer to
	// show on a submit topic and went to it directly instead.
	TopicWaits uint64
	// Presence: carets published, and received from members and taken;
	// PresenceRefused: presence messages refused (not a member, another
	// epoch, over the rate, replayed or stale, undecryptable).
	PresenceSent, PresenceTaken, PresenceRefused uint64
	// FeedEntries counts entries that came on the sequencer's feeds
	// (netproto.FeedProtocol), Feeds the feeds open now.
	FeedEntries uint64
	Feeds       int64
	// Dormant counts the documents dormant now: out of their topics'
	// meshes until something happens (dormant.go).
	Dormant int64
	// HeadsAgreed counts peers' heads that agreed with our committed log:
	// not relayed and not handed to the loop (agreed.go).
	HeadsAgreed uint64
}

type counters struct {
	committed, submitted, updates, rejected, invalidTopic, badStreams,
	fetches, forks, invitations, droppedEvents, served, restoreFailures, topicWaits, evidence, stalls,
	presenceSent, presenceTaken, presenceRefused, feedEntries, moves, rollbacks, recoveries, headsAgreed atomic.Uint64
	stalled, feeds, dormant atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{Committed: c.committed.Load(), Submitted: c.submitted.Load(), Updates: c.updates.Load(),
		Rejected: c.rejected.Load(), InvalidTopic: c.invalidTopic.Load(), BadStreams: c.badStreams.Load(),
		Fetches: c.fetches.Load(), Forks: c.forks.Load(), Invitations: c.invitations.Load(),
		DroppedEvents: c.droppedEvents.Load(), Served: c.served.Load(),
		RestoreFailures: c.restoreFailures.Load(), TopicWaits: c.topicWaits.Load(),
		Evidence: c.evidence.Load(), Stalls: c.stalls.Load(), Stalled: c.stalled.Load(),
		PresenceSent: c.presenceSent.Load(), PresenceTaken: c.presenceTaken.Load(), PresenceRefused: c.presenceRefused.Load(),
		FeedEntries: c.feedEntries.Load(), Feeds: c.feeds.Load(), Dormant: c.dormant.Load(),
		Moves: c.moves.Load(), Rollbacks: c.rollbacks.Load(), Recoveries: c.recoveries.Load(),
		HeadsAgreed: c.headsAgreed.Load()}
}

func (c *counters) collectors() []prometheus.Collector {
	f := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "c2c", Subsystem: "docsync",
			Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		f("committed_entries_total", "Entries committed.", &c.committed),
		f("submitted_envelopes_total", "Envelopes sent to the sequencer.", &c.submitted),
		f("remote_updates_total", "Remote edits applied.", &c.updates),
		f("rejected_entries_total", "Ordered entries that failed a check.", &c.rejected),
		f("invalid_topic_messages_total", "Topic messages rejected by validators.", &c.invalidTopic),
		f("bad_streams_total", "Stream messages rejected.", &c.badStreams),
		f("fetches_total", "History fetches started.", &c.fetches),
		f("fork_alarms_total", "Sequencer forks detected.", &c.forks),
		f("misbehaviour_alarms_total", "Sequencer tampered entries and forged seqs detected (evidence kept).", &c.evidence),
		f("stall_alarms_total", "Sequencer-stalled alarms raised.", &c.stalls),
		f("sequencer_moves_total", "Moves of a document to another sequencer followed (a restart counts the ones it replays again).", &c.moves),
		f("move_rollbacks_total", "Takeovers followed by rolling back entries of the previous sequencer.", &c.rollbacks),
		f("recoveries_total", "Takeovers this clone started from the last head every member shares, after a fork, tamper or stall.", &c.recoveries),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "c2c", Subsystem: "docsync", Name: "stalled_documents",
			Help: "Documents whose sequencer-stalled alarm is raised now."}, func() float64 { return float64(c.stalled.Load()) }),
		f("invitations_total", "Invitations accepted.", &c.invitations),
		f("dropped_events_total", "Events a slow subscriber missed.", &c.droppedEvents),
		f("served_entries_total", "Entries served to peers on history streams.", &c.served),
		f("restore_failures_total", "Stored documents that could not be opened at start.", &c.restoreFailures),
		f("presence_sent_total", "Carets published to members.", &c.presenceSent),
		f("presence_taken_total", "Carets received from members and taken.", &c.presenceTaken),
		f("presence_refused_total", "Presence messages refused (non-member, other epoch, rate, replay, stale, undecryptable).", &c.presenceRefused),
		f("sequencer_topic_waits_total", "Sends that timed out waiting for the sequencer on the submit topic and went to it directly.", &c.topicWaits),
		f("feed_entries_total", "Entries received on the sequencer's feeds.", &c.feedEntries),
		f("heads_agreed_total", "Peers' heads that agreed with the committed log (not relayed).", &c.headsAgreed),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "c2c", Subsystem: "docsync", Name: "feeds",
			Help: "Feeds of entries open to sequencers."}, func() float64 { return float64(c.feeds.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "c2c", Subsystem: "docsync", Name: "dormant_documents",
			Help: "Documents out of their topics' meshes until something happens: nobody edited them lately."}, func() float64 { return float64(c.dormant.Load()) }),
	}
}
