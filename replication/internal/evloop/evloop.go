// Package evloop is the one helper the mirror's two services share for
// their event loops: hand a function to the loop and wait until it ran.
package evloop

import "context"

// Do sends f to the loop on reqs and waits until it ran. It returns closed
// when stop ends first (the loop is gone), or ctx's error.
func Do(ctx, stop context.Context, reqs chan<- func(), f func(), closed error) error {
	done := make(chan struct{})
	select {
	case reqs <- func() { f(); close(done) }:
	case <-stop.Done():
		return closed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-stop.Done():
		return closed
	}
}
