package main

import (
	"strings"
	"testing"
)

// c2c doc move and c2c clone --standby-sequencer refuse bad flags before
// they call anything.
func TestDocMoveFlags(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := c2c(t, "doc", "move", "--data", dir, "abcdef12"); code == 0 || !strings.Contains(errOut, "--sequencer") {
		t.Fatalf("move without --sequencer: exit %d, %q", code, errOut)
	}
	for _, bad := range []string{"/ip4/1.2.3.4/tcp/1", "not-a-multiaddr"} {
		if _, err := parseStandby(bad); err == nil {
			t.Errorf("--standby-sequencer %q accepted", bad)
		}
	}
	if _, err := parseStandby("/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQR65x7JUrEoasw8nBbvJQmjsPYtNuXTpTXYCj5MHwcZs"); err != nil {
		t.Fatal(err)
	}
}
