package insim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/scenario"
)

// small shrinks a case to a size the default test run affords; CI runs
// N=100 through `c2c-sim`.
func small(name string, n int) scenario.Params {
	p := scenario.DefaultParams(name)
	p.Instances = n
	p.Duration = 20 * time.Second
	p.DownFor = 5 * time.Second
	p.Churn = 0.2
	p.EditEvery = 4 * time.Second
	return p
}

func TestDirectoryUnderChurn(t *testing.T) {
	p := small(scenario.CaseDirectory, 14) // 3 providers, 11 clones, 2 churn
	synctest.Test(t, func(t *testing.T) {
		sum, err := RunInBubble(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("lookups %+v churned %d rejoined %d", *sum.Lookups, sum.Churned, sum.Rejoined)
		if sum.Churned != 2 || sum.Rejoined != 2 {
			t.Fatalf("churned %d, rejoined %d, want 2 and 2", sum.Churned, sum.Rejoined)
		}
		if err := sum.Check(); err != nil {
			t.Fatal(err)
		}
	})
}

// Hosted clones are DHT clients of the providers, as c2c provider
// --host-clones runs them: each holds one connection per provider and no
// other, and every provider is connected to every other node.
func TestDirectoryClonesAreHostedClients(t *testing.T) {
	p := small(scenario.CaseDirectory, 14)
	p.Churn = 0
	synctest.Test(t, func(t *testing.T) {
		sum, err := RunInBubble(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sum.Check(); err != nil {
			t.Fatal(err)
		}
		clones := p.Instances - p.Providers
		want := float64(clones*p.Providers+p.Providers*(p.Instances-1)) / float64(p.Instances)
		if d := sum.Peers.UpMean - want; d > 1e-9 || d < -1e-9 {
			t.Fatalf("peers per node %v when all were up, want %v (%d per clone, %d per provider)",
				sum.Peers.UpMean, want, p.Providers, p.Instances-1)
		}
	})
	p.ServerClones = true // DHT servers join each other's tables
	synctest.Test(t, func(t *testing.T) {
		sum, err := RunInBubble(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		clones := p.Instances - p.Providers
		if floor := float64(clones*p.Providers+p.Providers*(p.Instances-1)) / float64(p.Instances); sum.Peers.UpMean <= floor {
			t.Fatalf("server clones: %v peers per node, want more than the clients' %v", sum.Peers.UpMean, floor)
		}
	})
}

func TestDocsyncUnderChurn(t *testing.T) {
	p := small(scenario.CaseDocsync, 9) // sequencer + 8 clones, 2 churn
	synctest.Test(t, func(t *testing.T) {
		sum, err := RunInBubble(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("edits %+v churned %d rejoined %d", *sum.Edits, sum.Churned, sum.Rejoined)
		if sum.Churned != 2 || sum.Rejoined != 2 {
			t.Fatalf("churned %d, rejoined %d, want 2 and 2", sum.Churned, sum.Rejoined)
		}
		if err := sum.Check(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDocsyncForkDetected(t *testing.T) {
	p := small(scenario.CaseDocsync, 7)
	p.Churn = 0
	p.Fork, p.ForkAt = true, 12
	synctest.Test(t, func(t *testing.T) {
		sum, err := RunInBubble(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("fork %+v", *sum.Fork)
		if err := sum.Check(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRootCausesHidesCancelledFollowers(t *testing.T) {
	cause := errors.New("invite 7 of 9: deadline exceeded")
	follower := fmt.Errorf("gather failed: doc: %w", context.Canceled)
	err := rootCauses([]error{nil, follower, cause, follower})
	if !errors.Is(err, cause) || errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cause without the cancelled followers", err)
	}
	if !strings.Contains(err.Error(), "2 other instances") {
		t.Fatalf("got %q, want the followers counted", err)
	}
	if err := rootCauses([]error{follower}); !errors.Is(err, context.Canceled) {
		t.Fatalf("only cancellations: got %v, want them kept", err)
	}
	if err := rootCauses([]error{nil, nil}); err != nil {
		t.Fatalf("no errors: got %v", err)
	}
}

// TestGridLatencyRoundsArrivalsUp checks that packets arrive on the grid,
// never before oneWay, and that a grain of 0 keeps exact latencies.
func TestGridLatencyRoundsArrivalsUp(t *testing.T) {
	const oneWay, grain = 20 * time.Millisecond, time.Millisecond
	grid := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // synctest's epoch: on the grid
	for _, after := range []time.Duration{0, 300 * time.Microsecond, 999 * time.Microsecond, time.Millisecond, 1500 * time.Microsecond} {
		now := grid.Add(after)
		d := gridLatency(oneWay, grain, func() time.Time { return now })(nil)
		at := now.Add(d)
		if d < oneWay || d >= oneWay+grain || !at.Equal(at.Truncate(grain)) {
			t.Errorf("sent %v after a grid point: latency %v, arrival off the grid or early", after, d)
		}
		if e := gridLatency(oneWay, 0, func() time.Time { return now })(nil); e != oneWay {
			t.Errorf("grain 0: latency %v, want %v", e, oneWay)
		}
	}
}
