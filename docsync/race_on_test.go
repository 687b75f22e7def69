//go:build race

package docsync

const raceEnabled = true
