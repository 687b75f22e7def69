// Package cloneservice is the clone's CloneDoc service: it wires one
// docsync.Replica per document to the network and to durable storage, and
// offers the API the clone's control layer and device link use.
//
// # API
//
//	New(h, ps, ds, identity, opts...)     start; reloads every document from ds
//	Create(ctx, sequencer)  -> DocID      new document; returns once genesis committed
//	Join(ctx, invitation)                 track a document we were invited to
//	Invite(ctx, doc, user, device, role)  look the clone up in the directory, add
//	                                      it (key wrapped to its HPKE key), wait for
//	                                      the commit, send it the invitation
//	Remove(ctx, doc, member)              remove a member (new key epoch); waits
//	ChangeRole(ctx, doc, member, role)    change a member's role; waits
//	Edit(ctx, doc, ops...)                apply local edits; returns once the
//	                                      edits are durable (acknowledged)
//	EditFunc(ctx, doc, build)             Edit with ops built on the service's loop
//	                                      from the current text length (no race
//	                                      with remote updates)
//	EditBase(ctx, doc, build)             EditFunc whose build gets the Base: the
//	                                      text, its length and Version it edits
//	WaitCommitted(ctx, doc)               returns once this clone's edits so far
//	                                      are committed
//	ID()                                  this clone's MemberID
//	EditFuncMeta(ctx, doc, build)         EditFunc whose build also returns meta
//	                                      records, made durable in the same batch
//	                                      as the edit (a device link's counters)
//	Meta(ctx, doc, prefix)                read a document's meta records
//	Text(doc), Info(doc), Members(doc), Log(doc, from, to), Docs()
//	Stats()                               counters (also Prometheus, WithMetrics)
//	Evidence(doc)                         what is kept against the sequencer
//	Move(ctx, doc, sequencer, takeover)   move to another sequencer (admins); waits
//	                                      for the commit and the new sequencer's
//	                                      adoption (move.go; WithStandby: automatic)
//	Subscribe(doc)                        updates, commits, rejections, alarms
//	                                      (buffered; a slow subscriber loses events)
//	Attach(ctx, doc, fn)                  the text and version now, then fn called
//	                                      on the loop with every durable change of
//	                                      the text, in order, none lost; edits
//	                                      through the Attachment are not reported
//	                                      back (the device link's hub); the
//	                                      Attachment also sets and clears its
//	                                      device's caret (SetCaret, ClearCaret),
//	                                      and the observer gets the others'
//	                                      (Change of Kind EventPresence)
//	Close()
//
// The package's example (Example_replayTrace) replays a two-author editing
// trace (docsync/ot/trace.LoadConcurrent) through two clones and a
// sequencer on loopback with this API alone: New, Create, Invite, ID,
// EditBase, WaitCommitted, Info and Text.
//
// Every call is safe from any goroutine. Edits are refused with
// docsync.ErrNotReady until this clone holds the document key (an invited
// clone fetches it after Join), and with docsync.ErrHalted after a fork.
// Invite is idempotent: re-inviting a member only re-sends the invitation.
//
// An edit is acknowledged when Edit returns: the replica's Pending (in-flight
// envelope, buffer, counter) that contains it has been written and synced.
// kill -9 at any later point loses nothing: on restart docsync.Restore
// re-sends the in-flight envelope (its counter makes that idempotent) and the
// buffer; committed entries are replayed and verified again, from the
// kept snapshot on when the log was compacted.
//
// # Snapshots and compaction
//
// Every Params.SnapshotEvery committed entries the clone seals a snapshot
// of the document and, in the same synced batch, deletes its log before the
// last Params.KeepHistory entries (the genesis stays). It serves the
// snapshot to members on netproto.SnapshotProtocol and answers history
// requests for deleted ranges with netproto.CompactedError. An invited clone
// joins from its inviter's snapshot when it verifies (docsync.Join), and
// otherwise by replay from seq 1 (snapshots.go, docs/snapshots.md).
//
// # Network
//
// Per document the service keeps a feed of entries open at the document's
// sequencer (netproto.FeedProtocol, feed.go): each entry comes once, in
// order, straight from the sequencer; its document, sequencer signature
// and author signature are checked on the feed's goroutine and the
// replica checks the rest. Signatures are checked through a
// docsync.SigCache that the clones of the process share (WithSigCache),
// so that clones hosted together verify each entry's signatures once.
// A feed that ends is opened again from the next missing seq (FeedRetry,
// backing off to FeedRetryMax). It also joins four gossipsub topics
// (netproto): it publishes envelopes on the submit topic, receives on the
// entries topic what the sequencer publishes there for members without a
// feed (the validator decodes, checks the document and the sequencer's
// signature, whoever relayed it; failures are rejected, lowering the
// sender's score, and counted), and gossips signed heads on the heads topic
// (each member the more rarely the more members there are: see
// Params.HeadGossipers). A gap waits GapWait for the entries in flight
// before it is fetched; a resubmitted envelope goes on
// netproto.SubmitProtocol, since gossipsub names messages by their bytes.
// Missing ranges are fetched on netproto.HistoryProtocol from the sequencer
// first and then from member clones (entries verify end to end, so this
// service also serves its history to anyone). Entries pushed on
// netproto.PushProtocol by the document's sequencer (by nobody else) are
// handled like fetched ones. The genesis goes to
// the sequencer on netproto.RegisterProtocol. Invitations arrive on
// netproto.InviteProtocol. Members' carets go on a fourth topic, the
// presence topic (presence.go, docsync/presence, docs/presence.md): sealed
// under the current epoch key and signed by the member, checked by the
// validator (signature, rate per member, membership, epoch) before
// gossipsub forwards them, never sequenced or stored. A topic rather than
// direct streams (like PushProtocol) because of cost: a caret goes to
// every member, up to 20 times a second, and is 193 bytes (c2c bench presence); one
// publish reaches them all over the mesh the members keep anyway, where
// streams would cost one stream and one send per member per caret. On a gossipsub router built with peer scoring,
// the topics get netproto.TopicScoreParams, so each rejected message costs
// its sender; without it the rejections are only counted.
//
// # Dormant documents
//
// A document with nothing under way at this member and no new entry for
// Params.DormantAfter (1 minute) goes dormant here (dormant.go): the
// member cancels its three topic subscriptions, so gossipsub leaves their
// meshes, and stops gossiping its head, dialling members and ticking it;
// the sequencer's feed stays open and brings the next entry, which wakes
// it, as do its own edits, an attached observer, a move and a lost feed.
// Info.Dormant and the dormant_documents gauge show it.
//
// # Forks, misbehaviour and stalls
//
// When the replica finds two sequencer-signed heads for one seq with
// different hashes, the service logs an error, counts it, writes the fork
// proof to the datastore, emits an EventAlarm to subscribers and stops
// submitting to (and accepting entries from) that sequencer for the document,
// also after a restart. It gossips both heads of the proof on the heads
// topic then and every HeadRepeat after, the repeats numbered
// (docsync.Head.MarshalRepeat) so that gossipsub, which drops a message
// whose bytes it saw in the last two to three minutes, delivers them to a
// member that missed the first (one that was away or had just
// reconnected). Evidence of a tampered entry or a forged seq
// (docsync.EventEvidence) is written in the same batch as the Ready it came
// in, and then raises EventMisbehaviour and stops the document the same
// way. Evidence (Service.Evidence) is gossiped on the heads topic, where
// each member verifies it against the document's sequencer key, within
// Params.EvidenceRate per sending peer, before gossipsub forwards it; a
// member keeps one of each kind per sequencer. The document stays stopped
// while it is on the sequencer that misbehaved; an admin recovers it
// (below). A sequencer that withholds for
// Params.StallAfter (no entry for our submitted envelope, missing entries
// not served, or a current member's signed wait claim while our head does
// not move) raises EventStalled (Info.Stalled, the stall_alarms_total and
// stalled_documents metrics, and a Change of Kind EventStalled to attached
// observers: the device link), and EventResumed once it no longer does.
// A member whose envelope waits ResubmitAfter gossips a docsync.WaitClaim
// on the heads topic every HeadRepeat, so members that do not submit see
// heads that stop while others submit (waitclaim.go says what a lying
// member can and cannot do with it); claims are checked by the topic
// validator (size, document, signature, current member, WaitClaimRate).
//
// # Moves to another sequencer
//
// An admin moves a document with Move (docsync's move.go: a planned
// handover ordered by the current sequencer, or a takeover ordered by the
// new one). With WithStandby, an admin's clone whose stalled alarm is up
// takes over to the standby by itself. Every member follows a committed
// move (EventMoved): it sends to and fetches from the new sequencer, its
// topic validators take the new key and ignore the old one's later
// messages, and it resends its envelope in flight. The new sequencer gets
// the history before the move from a member, which sends it an adopt
// request (netproto.AdoptProtocol) and serves it the history although it
// is no member (and, once it compacted, its snapshot). A member that
// committed more from the old sequencer than a takeover's base rolls back
// to follow it (docsync.Replica.RollbackFromSnapshot, from its kept
// snapshot when it compacted): the abandoned entries are replaced by the
// move in one synced batch. Invitations after a move carry the key
// schedule (netproto.Invitation.Schedule).
//
// Move on a document stopped by a fork proof or evidence recovers it
// (recover.go): the admin's clone collects the members' signed heads over
// the history protocol, takes over from the last seq every chain shares
// (docsync.Replica.TakeoverFrom, its entries after it replaced in one
// synced batch), and every member, halted or not, on either branch,
// follows the takeover by rolling back; a member that was not connected
// while the heads were collected, and whose branch left the others'
// before that seq, follows across when it is back (across.go,
// docsync.Replica.FollowAcross). With WithStandby the admin's clone
// does it by itself when the fork or misbehaviour alarm is up, and when a
// stalled sequencer withholds entries it knows exist. Info.Recovered lists
// the alarms the document recovered from; their evidence stays kept.
//
// # Storage (keys under the datastore given to New; namespace it)
//
//	/c/<doc hex>/meta          the document's invitation (sequencer key, addresses, role)
//	/c/<doc hex>/e/<seq hex16> committed entries
//	/c/<doc hex>/pending       in-flight envelope, buffer, counter
//	/c/<doc hex>/fork          fork proof written by older versions (still read)
//	/c/<doc hex>/evidence/<k>/<sequencer key hex>  fork proof (k=1), tamper (k=2)
//	                           or forged-seq (k=3) evidence against that
//	                           sequencer, once found: one per kind and
//	                           sequencer, so a document that recovered and
//	                           was forked again keeps every proof
//
// # Wiring on a node
//
// node.Node.StartCloneServices starts it with the clone's other services
// (the device link, the control socket); node.Node.StartDocs, which it
// calls, builds the identity from the node's keys (IdentityFromKeys),
// namespaces the datastore and passes the directory (node.CloneDirectory).
//
// One event loop owns every replica (go-libp2p-pubsub processLoop style);
// API calls, topic readers, stream handlers and fetches send it work.
package cloneservice
