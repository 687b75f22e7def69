package cloneservice

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// An unreachable member is dialled again after DialInterval, doubling up
// to maxDialBackoff; once connected its backoff is forgotten.
func TestMemberDialBackoff(t *testing.T) {
	s := &Service{params: DefaultParams()}
	p := peer.ID("member")
	now := time.Unix(1_000_000, 0)
	var gaps []time.Duration
	last := now
	for range 20 * 60 { // 20 min, one check per second
		if s.dialDue(p, now) {
			gaps = append(gaps, now.Sub(last))
			last = now
		}
		now = now.Add(time.Second)
	}
	want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if gaps[i] != w {
			t.Fatalf("dial %d after %v, want %v (gaps %v)", i, gaps[i], w, gaps[:len(want)])
		}
	}
	for _, g := range gaps[len(want):] {
		if g != maxDialBackoff {
			t.Fatalf("a gap of %v after the cap", g)
		}
	}
	s.dialed(p)
	if !s.dialDue(p, now) || s.dialDue(p, now.Add(time.Second)) {
		t.Fatal("once connected and lost again, a member is not dialled at once and then after DialInterval")
	}
}
