package downloader

import (
	"context"
	"io"

	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloads"
	"github.com/clone2clone/c2c/replication/scan"
)

// EngineScanner scans with a scan.Engine (one per provider process) in
// the clone's process, through its verdict cache.
type EngineScanner struct{ Engine *scan.Engine }

// Scan implements Scanner.
func (e EngineScanner) Scan(_ context.Context, ref boxostore.Ref, open func() (io.ReadCloser, error)) (downloads.Verdict, error) {
	v, _, err := e.Engine.ScanBlob(ref.SHA256, int64(ref.Size), open)
	return downloads.Verdict{Infected: v.Infected, Name: v.Name, By: v.By, DBVersion: e.Engine.DB().Version()}, err
}
