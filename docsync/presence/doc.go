// Package presence is CloneDoc's presence: members' carets and
// selections, ephemeral and never sequenced (docs/presence.md).
//
// A caret travels between clones as an Update, on the document's presence
// topic (netproto.PresenceTopic): its header (document, member, key
// epoch, stamp) in the clear, its body (device name, display name, the
// committed seq its positions refer to, anchor and head) sealed with
// XChaCha20-Poly1305 under a key derived from the epoch's document key,
// and the whole signed with the member's Ed25519 key (its MemberID). Seal
// builds a message; Parse checks its size, framing and signature before
// anything else; Sealed.Open decrypts it once the caller has checked that
// the member belongs to the document and the epoch is current.
//
// Why a gossipsub topic and not direct streams to each member's clone:
// a caret goes to every member, often and small, so one publish over the
// mesh the members already keep costs less than one stream per member per
// caret; the topic validator makes up for the trust (nothing is forwarded
// before its signature, rate, membership and epoch check out).
//
// A Table keeps one document's carets from other members, bounded
// (Params.MaxEntries), refusing replayed, reordered and stale stamps and
// expiring carets not refreshed within Params.TTL. Color and DisplayName
// give each member's colour and label.
//
// The package is pure: no goroutine, no network, no clock (time is passed
// in). The clone's wiring is docsync/cloneservice (presence.go).
package presence
