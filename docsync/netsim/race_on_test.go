//go:build race

package netsim

// raceEnabled: the race detector slows the simulation ~5x; the heaviest
// tests shrink so `go test -race` stays within CI's budget.
const raceEnabled = true
