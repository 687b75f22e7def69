// Package deliver is clone-to-clone delivery for the mirror's outbox and
// inbox (DESIGN 6), on its own protocol, /c2c/mirror/deliver/1.0.0.
//
// Sender side: the clone's mirror replays the device's outbox requests; the
// outbox app names each one in an Output, which the mirror service hands to
// this package's Service as an in-loop observer (Outputs never blocks). The
// Service reads the request from the mirror's outbox, finds every
// recipient's clone through the directory (the recipient's owner
// certificate, verified), and delivers one inbox.Message to each, retried
// with capped exponential backoff until the recipient acknowledges it. The
// message names the request's files by reference (inbox.Message.Linked:
// name and boxostore.Ref), never their bytes: the recipient's clone pulls
// the blocks from this clone over blobxfer, which serves them only to the
// clones of the request's recipients (Authorize). Each device's outcome is
// relayed to the mirror as an outbox status input (outbox.Status), so the
// sender's device sees who got it. What was acknowledged is kept in the clone's
// datastore, and on boot every recorded request not yet acknowledged is
// sent again, so a delivery survives restarts.
//
// Recipient side: a stream carries the sender clone's owner certificate,
// then the message, each a uvarint-length frame whose length is checked
// against a cap and read through internal/bounded before anything is
// allocated for it. The certificate must verify and name the stream's
// remote peer as its clone; the message must come from the certificate's
// user and be addressed to this clone's user (and device, if it names
// one). Nothing is persisted before that. A message is deduplicated by
// (sender, ID). Before the first copy is relayed, the linked files are
// pulled from the sender's clone (the stream's peer) into this clone's
// store, every block verified, the sending user's blob bytes charged to
// a quota first (a failed or cut pull is answered as unavailable: the
// sender retries, and the pull resumes with the blocks still missing).
// The first copy is then relayed into this clone's mirror as an
// inbox network input (and the inbox app keeps a message once, so even a
// copy relayed twice across a crash is one message); a later one is
// acknowledged as a duplicate. Every refusal has its own error.
package deliver
