package node

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestStickyListenAddrs(t *testing.T) {
	m := ma.StringCast
	want := []ma.Multiaddr{m("/ip4/127.0.0.1/tcp/0"), m("/ip4/127.0.0.1/udp/0/quic-v1"), m("/ip4/0.0.0.0/tcp/4001")}
	remembered := []ma.Multiaddr{
		m("/ip4/127.0.0.1/udp/40123/quic-v1"),
		m("/ip4/10.0.0.1/tcp/39000"), // another interface: not ours to reuse
		m("/ip4/127.0.0.1/tcp/39001"),
		m("/ip4/0.0.0.0/tcp/5000"), // an explicit port in want always wins
	}
	got := stickyListenAddrs(want, remembered)
	exp := []string{"/ip4/127.0.0.1/tcp/39001", "/ip4/127.0.0.1/udp/40123/quic-v1", "/ip4/0.0.0.0/tcp/4001"}
	for i := range exp {
		if got[i].String() != exp[i] {
			t.Errorf("addr %d: got %s, want %s", i, got[i], exp[i])
		}
	}
	if got := stickyListenAddrs(want, nil); !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
		t.Errorf("nothing remembered: got %v", got)
	}
}

func TestListenFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	addrs := []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/39001"), ma.StringCast("/ip4/127.0.0.1/udp/40123/quic-v1")}
	if err := writeListenFile(dir, append(addrs, ma.StringCast("/p2p-circuit"))); err != nil {
		t.Fatal(err)
	}
	got := readListenFile(dir)
	if len(got) != 2 || !got[0].Equal(addrs[0]) || !got[1].Equal(addrs[1]) {
		t.Fatalf("read back %v", got)
	}
	if got := readListenFile(t.TempDir()); got != nil {
		t.Fatalf("no file: got %v", got)
	}
}
