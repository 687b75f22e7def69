// Package paperbench is the C2C paper's experiment (Kosta et al.,
// "Clone2Clone (C2C): Peer-to-Peer Networking of Smartphones on the Cloud")
// as one run: 16 users, each with a device in a process of its own, in clone
// mode (the device is the thin client of its clone) and in direct mode (the
// SPORC baseline: the whole clone engine on the device), through the
// paper's four phases:
//
//  1. edit: all devices edit one document concurrently;
//  2. update: one device is offline while the others edit, then comes back;
//  3. check: the document's sequencer forks the log (a Byzantine
//     sequencer) and every member detects it;
//  4. remove: a member is removed and the document rekeyed.
//
// Each device measures itself (device.Meter: stream bytes, getrusage CPU
// time, signature and AEAD counts) and records the timestamps of what it
// sends and receives; the parent turns each timeline into an energy
// estimate (device/energy). The clones, the sequencers and the directory
// run in the parent process on real libp2p hosts on 127.0.0.1 with pebble
// datastores. Run drives it; `c2c bench paper` prints it.
package paperbench
