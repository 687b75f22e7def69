// Package node assembles and runs the libp2p host of every c2c role
// (provider, clone, sequencer, device) from one validated Config.
//
// A Node owns, in start order: the datastore (go-ds-pebble under the data
// dir), the identity key (generated once, kept in the data dir), the resource
// and connection managers, the host (TCP and QUIC listeners), the private
// kad-dht ("/c2c" protocol prefix, the directory validator), gossipsub with
// strict signing, the directory (dht.Directory) and the bootstrapper that
// keeps the node joined to the configured providers. Close stops them in the
// reverse order.
//
// Clones additionally keep an HPKE key and the owner certificate written by
// `c2c enroll` in their data dir and publish the certificate once joined.
//
// Many nodes of one process (a provider hosting its clones, package
// clonehost) can share a Shared: one pebble datastore, each node under its
// own prefix (WithSharedDatastore), and one resource manager for all their
// hosts (WithSharedLimits). Neither is closed by the nodes.
package node
