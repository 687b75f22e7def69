// Package devicebench measures devices as separate processes on loopback
// QUIC: what a device spends (bytes on its host, CPU time of its process,
// crypto operations) per 1,000 document edits in clone mode (thin client of
// its clone) and in direct mode (the whole clone engine on the device, the
// SPORC baseline), and the catch-up bundle after many missed edits.
//
// It has no library code: run the benchmarks,
//
//	go test -run '^$' -bench . -benchtime 1x ./device/devicebench
package devicebench
