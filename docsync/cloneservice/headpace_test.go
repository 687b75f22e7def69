package cloneservice

import (
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync"
)

// A moved head is news only HeadSeqs seqs past the newest head heard or
// sent, or once none newer came for HeadQuiet; an older head heard later
// changes nothing.
func TestHeadNews(t *testing.T) {
	s := &Service{params: DefaultParams()}
	p := s.params
	t0 := time.Unix(1000, 0)
	d := &docState{head: &docsync.Head{Seq: 100}}
	d.heardHead(100, t0)
	for _, c := range []struct {
		seq  uint64
		at   time.Duration
		news bool
	}{
		{100, 0, false},
		{100 + p.HeadSeqs - 1, p.HeadQuiet - time.Millisecond, false},
		{100 + p.HeadSeqs, 0, true},
		{101, p.HeadQuiet, true},
	} {
		d.head.Seq = c.seq
		if got := s.headNews(d, t0.Add(c.at)); got != c.news {
			t.Errorf("head %d at +%v after a head for 100: news %v, want %v", c.seq, c.at, got, c.news)
		}
	}
	d.heardHead(90, t0.Add(time.Second))
	if d.headNewest != 100 || !d.headNewAt.Equal(t0) {
		t.Errorf("an older head moved the newest to %d at %v", d.headNewest, d.headNewAt)
	}
}
