package clonehost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// MigrateResult is what one Migrate did.
type MigrateResult struct {
	Bytes     int64         // the export's size
	Moved     time.Duration // from the stop on the old host to the start on the new one
	Published time.Duration // from the stop to the new host's listing it published
}

// Migrate moves clone name from the host behind from to the one behind
// to, as newName: from stops it and streams its export into to's import,
// which verifies it, persists it and starts it; once to lists it
// published (within wait), from removes it. If the import fails the
// clone is started again on from and nothing is removed; if it is not
// published in time it stays on both, stopped on from, and the error
// says so. Nothing acknowledged is lost: the clone is stopped before the
// export is read, so every edit it acknowledged is in the export.
func Migrate(ctx context.Context, from, to *AdminClient, name, newName string, wait time.Duration) (MigrateResult, error) {
	var res MigrateResult
	start := time.Now()
	pr, pw := io.Pipe()
	exported := make(chan error, 1)
	go func() {
		n, err := from.Export(ctx, name, pw)
		res.Bytes = n
		pw.CloseWithError(err)
		exported <- err
	}()
	err := to.Import(ctx, newName, pr)
	pr.CloseWithError(errors.New("import ended")) // unblocks the export if the import failed early
	if eerr := <-exported; err == nil && eerr != nil {
		err = eerr
	}
	if err != nil {
		if serr := from.Start(context.WithoutCancel(ctx), name); serr != nil {
			return res, fmt.Errorf("clonehost: migrate %s: %w; restarting it on the old host failed too: %v", name, err, serr)
		}
		return res, fmt.Errorf("clonehost: migrate %s: %w (it runs on the old host again)", name, err)
	}
	res.Moved = time.Since(start)
	deadline := time.Now().Add(wait)
	for {
		infos, err := to.Clones(ctx)
		if err == nil {
			if in, ok := byNameIn(infos, newName); ok && in.Published {
				break
			}
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("clonehost: migrate %s: not published by the new host within %v (it stays stopped on the old one; remove it there once it is)", name, wait)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling interval of the new host's list
		}
	}
	res.Published = time.Since(start)
	if err := from.Remove(ctx, name); err != nil {
		return res, fmt.Errorf("clonehost: migrate %s: it runs on the new host, but removing it from the old one failed: %w", name, err)
	}
	return res, nil
}

func byNameIn(in []CloneInfo, name string) (CloneInfo, bool) {
	for _, c := range in {
		if c.Name == name {
			return c, true
		}
	}
	return CloneInfo{}, false
}
