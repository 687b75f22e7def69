package mirrorbench

import "testing"

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole benchmark")
	}
	r, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Lag {
		if l.Max > l.SyncMs+l.MaxMs {
			t.Errorf("lag %+v exceeds t_syn_int + t_max", l)
		}
	}
	t.Logf("%+v", r)
}
