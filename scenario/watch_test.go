package scenario

import "testing"

// A nil Watch counts nothing, and a view prints the providers' spread.
func TestWatchCountsAndPrints(t *testing.T) {
	var none *Watch
	none.cloneStarted()
	none.clonePublished()
	none.addProvider(nil)

	w := &Watch{}
	w.cloneStarted()
	w.cloneStarted()
	w.clonePublished()
	v := w.View()
	if v.Started != 2 || v.Published != 1 || len(v.Providers) != 0 {
		t.Fatalf("view %+v, want 2 started, 1 published, no providers", v)
	}
	if got, want := v.String(), "clones started 2, published 1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	v.Providers = []ProviderView{{Conns: 5, Records: 3, GetServed: 1}, {Conns: 4, Records: 7, GetServed: 2}}
	if got, want := v.String(), "clones started 2, published 1; 2 providers: 4-5 conns, 3-7 records, 3 gets served"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
