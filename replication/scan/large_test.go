//go:build large

package scan_test

import "testing"

// TestNoFalsePositivesRandom1GB scans 1 GiB of random data with the
// generated database: go test -tags large -run 1GB ./replication/scan/
func TestNoFalsePositivesRandom1GB(t *testing.T) {
	scanRandom(t, 1<<30)
}
