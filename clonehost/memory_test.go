package clonehost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/libp2p/go-libp2p/core/peer"
)

// heapInuse is the live heap and the goroutine stacks after two
// collections.
func heapInuse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// BenchmarkHostedCloneMemory measures what DefaultMemoryModel estimates.
// One host runs clone c0 with C2C_BENCH_DOCS documents (default 20, under
// the sequencer's burst of 32 registrations per peer; 5 edits each) and
// 10 idle clones; the idle ones are stopped, then c0, and the live heap
// and stacks each step frees are what those clones cost (the sequencer's state stays,
// in this process, through both). One idle clone's is a tenth of the
// first step; c0's minus an idle clone's, divided by the documents, is
// one document's.
func BenchmarkHostedCloneMemory(b *testing.B) {
	docs := 20
	if v, err := strconv.Atoi(os.Getenv("C2C_BENCH_DOCS")); err == nil && v > 0 {
		docs = v
	}
	ctx := context.Background()
	for b.Loop() {
		const idleClones = 10
		p := newProvider(b, b.TempDir(), 1+idleClones)
		h := p.start(b, DefaultParams())
		if err := os.Chmod(p.dir, 0o700); err != nil {
			b.Fatal(err)
		}
		waitPublished(b, h, time.Minute)
		seq := sequencer(b, []peer.AddrInfo{p.node.AddrInfo()})
		ctl := control.NewClient(filepath.Join(p.dir, "clones", "c0", control.SocketFile))
		for d := range docs {
			doc, err := ctl.Create(ctx, seq)
			if err != nil {
				b.Fatal(err)
			}
			for e := range 5 {
				if _, err := ctl.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: fmt.Sprintf("<%d.%d>", d, e)}); err != nil {
					b.Fatal(err)
				}
			}
		}
		ctl.Close()
		conns := 0
		for _, c := range h.Clones()[1:] {
			conns += len(c.Node.Host().Network().Conns())
		}
		h0 := heapInuse()
		for i := 1; i <= idleClones; i++ {
			if err := h.Stop("c" + strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
		}
		h1 := heapInuse()
		if err := h.Stop("c0"); err != nil {
			b.Fatal(err)
		}
		h2 := heapInuse()
		idle, withDocs := (h0-h1)/idleClones, h1-h2
		b.ReportMetric(float64(idle), "idle-clone-bytes")
		b.ReportMetric(float64(conns)/idleClones, "idle-clone-conns")
		b.ReportMetric(float64(withDocs-idle)/float64(docs), "bytes/doc")
		p.stop(b, h)
	}
}
