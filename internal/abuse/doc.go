// Package abuse is a set of attacks on c2c processes, each run by a hostile
// libp2p peer: a real go-libp2p host on loopback with a fresh random
// identity and no credentials (NewHost). Each attack takes a context, the
// attacker's host and the target's address, is bounded in count (its n)
// and in time (the context, and PerRequest for each stream), and returns
// what it did as a Result: streams opened, requests the target accepted or
// refused, and errors.
//
// The attacks speak the current wire formats through the packages that
// define them (netproto, device/link, docsync), so they measure the real
// code path of the target:
//
//	InviteFlood    junk invitations with random document IDs (netproto.InviteProtocol)
//	SlowFrames     device-link streams that announce a large frame and stall (link.Protocol)
//	RegisterFlood  valid genesis registrations, all from one identity (netproto.RegisterProtocol)
//	HistoryFetch   a non-member's history request for a real document (netproto.HistoryProtocol)
//
// c2c bench abuse runs them against a network of c2c processes and
// reports what each did to its target. The package holds no test doubles:
// it is attack code, linked only into the bench.
package abuse
