// Package dht is the c2c directory: the signed records that bind a user's
// device to its clone, and the machinery that publishes and finds them.
//
// It replaces the C2C paper's CloneDS. A user key (Ed25519, the user ID is
// its peer ID) signs an OwnerCert per (user, device) and a DeviceIndex per
// user. Records live in a private Kademlia DHT under the "/c2c" namespace,
// guarded by a record.Validator (NewValidator). Providers additionally keep
// a full replica of every record, fed by gossip of signed updates and by
// anti-entropy on join, and answer lookups from it when the DHT path fails.
//
// The record codec, the validator and the replica store are pure (no
// goroutines, no network, time passed in); Directory owns the I/O.
package dht
