// Package scenario holds the scale scenarios of c2c, written once and run
// two ways: in one process on go-libp2p's simulated network under
// testing/synctest (package scenario/insim, `c2c-sim`), and as Testground
// test plans through sdk-go (the nested module in testground/).
//
// A scenario is the code one instance runs. It reaches the other instances
// only through the network and a Sync (an all-gather keyed by topic, which
// Testground's sync service or an in-process rendezvous implements), and it
// gets its transport, data dir and parameters from an Env. Every instance
// ends by sharing its InstanceResult; instance 0 gets them all, and
// Summarize turns them into a Summary (the JSON every run writes) and Summary.Check holds the
// pass criteria (lookups succeed >= 99%, every edit reaches every live clone).
//
// Cases:
//
//   - directory: providers and clones; every clone publishes its owner
//     certificate and then looks up random other clones' records for the
//     run's duration while a fraction of the clones (the churn rate) leaves
//     and comes back with the same identity.
//   - docsync: a sequencer and clones share one document; the clones edit
//     concurrently while some of them leave and come back. With Fork set the
//     sequencer equivocates (splits the clones into two branches) and the run
//     measures how long the clones take to raise the fork alarm.
//
// Clones run as `c2c provider --host-clones` hosts them: built by
// clonehost.NodeConfig and clonehost.NodeOptions (DHT clients of the
// providers, QUIC only, the hosted clones' timers; Params.ServerClones for
// DHT servers), and, when the runner gives the Env a node.Shared, on the
// datastore and resource budget of their provider process (Params.HostOf).
//
// This package must not import Testground's sdk-go, so the root module's
// go.mod stays free of its old dependencies.
package scenario
