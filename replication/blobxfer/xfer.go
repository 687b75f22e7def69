package blobxfer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/ipfs/go-cid"
)

// Stats describe one transfer, on the side that measured it.
type Stats struct {
	Blocks     int           // blocks moved on this stream
	Held       int           // blocks the puller already held (not sent again)
	BlockBytes int64         // bytes of the blocks moved
	Sent       int           // frame bytes this side wrote (length prefixes included)
	Received   int           // frame bytes this side read
	Rounds     int           // want rounds (one per level of the DAG that had missing blocks)
	FirstBlock time.Duration // from the start to the first block read (puller; 0 if none moved)
}

// budget bounds what a DAG may hold given its Ref: leaves that add up to
// at most its size, and at most as many inner nodes as leaves.
type budget struct {
	leafBytes, leaves, inner int64
}

func newBudget(ref boxostore.Ref) (*budget, error) {
	if ref.Size > MaxBlobBytes {
		return nil, fmt.Errorf("%w: blob of %d bytes, cap %d", ErrTooLarge, ref.Size, MaxBlobBytes)
	}
	leaves := max(1, (int64(ref.Size)+boxostore.ChunkSize-1)/boxostore.ChunkSize)
	return &budget{leafBytes: int64(ref.Size), leaves: leaves, inner: leaves}, nil
}

func (b *budget) take(c cid.Cid, n int) error {
	if c.Type() == cid.Raw {
		b.leaves--
		b.leafBytes -= int64(n)
	} else {
		b.inner--
	}
	if b.leaves < 0 || b.leafBytes < 0 || b.inner < 0 {
		return fmt.Errorf("%w: the DAG is larger than its Ref says", ErrCorrupt)
	}
	return nil
}

// puller receives a DAG into dst.
type puller struct {
	c        *conn
	ref      boxostore.Ref
	dst      *boxostore.Store
	progress func(done, total uint64)
	ctx      context.Context
	start    time.Time

	st     Stats
	budget *budget
	done   uint64
}

// pull walks ref's DAG level by level: held blocks are read locally,
// missing ones wanted from the giver; each arriving block is checked
// against the CID wanted before it is stored. Then the content is checked
// against the Ref, and the done frame sent (also on failure).
func (p *puller) pull() (Stats, error) {
	err := p.walk()
	if err == nil {
		if _, err = p.dst.Read(p.ref); err != nil {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	if err == nil && p.st.Blocks > 0 {
		// What the done frame acknowledges survives a kill -9.
		if err = p.dst.Sync(); err != nil {
			err = fmt.Errorf("%w: local store: %w", ErrUnavailable, err)
		}
	}
	if werr := p.c.end(err); err == nil && werr != nil {
		err = werr
	}
	p.st.Sent, p.st.Received = p.c.sent, p.c.received
	return p.st, err
}

func (p *puller) walk() error {
	b, err := newBudget(p.ref)
	if err != nil {
		return err
	}
	p.budget = b
	p.report()
	level := []cid.Cid{p.ref.CID}
	for len(level) > 0 {
		var want, next, again []cid.Cid
		wanted := map[cid.Cid]bool{}
		// What this side holds is read here, down to the blocks it lacks.
		// A block named twice (a file with repeated chunks) is wanted
		// once, and read locally once it arrived.
		for len(level) > 0 {
			c := level[len(level)-1]
			level = level[:len(level)-1]
			h, err := boxostore.HashOf(c)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			blk, err := p.dst.Get(h)
			if errors.Is(err, replication.ErrChunkNotFound) {
				if wanted[c] {
					again = append(again, c)
				} else {
					wanted[c] = true
					want = append(want, c)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("%w: local store: %w", ErrUnavailable, err)
			}
			p.st.Held++
			links, err := p.account(c, blk)
			if err != nil {
				return err
			}
			level = append(level, links...)
		}
		p.report()
		if len(want) == 0 {
			break
		}
		p.st.Rounds++
		if err := p.round(want, &next); err != nil {
			return err
		}
		level = append(next, again...)
	}
	return nil
}

// arrived is a frame read ahead, with its block's hash.
type arrived struct {
	m   *Msg
	h   replication.Hash
	err error
}

// readAhead is how many frames the reader may be ahead of the store.
const readAhead = 8

// Window is how many blocks a puller has asked for and not yet received,
// at most: enough to keep the stream busy, few enough that a transfer cut
// wastes little (at most Window blocks in flight are lost). Wants go out
// WindowStep at a time as blocks arrive.
const (
	Window     = 8
	WindowStep = 4
)

// round receives the blocks of one want round: it keeps Window blocks
// asked for, and a reader goroutine reads and hashes frames while this one
// verifies and stores them, in order. The reader has stopped when round
// returns.
func (p *puller) round(want []cid.Cid, next *[]cid.Cid) error {
	asked := 0
	ask := func(upTo int) error {
		for asked < min(upTo, len(want)) {
			end := min(upTo, len(want), asked+MaxWant)
			if err := p.c.write(&Msg{Kind: KindWant, Want: want[asked:end]}); err != nil {
				return err
			}
			asked = end
		}
		return nil
	}
	if err := ask(Window); err != nil {
		return err
	}
	frames := make(chan arrived, readAhead)
	stop := make(chan struct{})
	go func() {
		defer close(frames)
		for range want {
			m, err := p.c.read(KindBlock, KindMissing)
			a := arrived{m: m, err: err}
			if err == nil && m.Kind == KindBlock {
				a.h = replication.HashChunk(m.Block)
			}
			select {
			case frames <- a:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range frames { // wait for the reader to stop
		}
	}()
	for i, c := range want {
		a, ok := <-frames
		if !ok {
			return fmt.Errorf("%w: the reader stopped", ErrUnavailable)
		}
		links, err := p.receive(c, a)
		if err != nil {
			return err
		}
		if asked-(i+1) <= Window-WindowStep {
			if err := ask(i + 1 + Window); err != nil {
				return err
			}
		}
		*next = append(*next, links...)
		if err := p.ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// receive checks the block that arrived for c and stores it.
func (p *puller) receive(c cid.Cid, a arrived) ([]cid.Cid, error) {
	if a.err != nil {
		return nil, a.err
	}
	m := a.m
	if m.Kind != KindBlock {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, c)
	}
	if p.st.Blocks == 0 {
		p.st.FirstBlock = time.Since(p.start)
	}
	h, _ := boxostore.HashOf(c) // checked when wanted
	if a.h != h {
		return nil, fmt.Errorf("%w: block %v does not hash to its CID", ErrCorrupt, c)
	}
	links, err := p.account(c, m.Block)
	if err != nil {
		return nil, err
	}
	if _, err := p.dst.Put(m.Block); err != nil {
		return nil, fmt.Errorf("%w: local store: %w", ErrUnavailable, err)
	}
	p.st.Blocks++
	p.st.BlockBytes += int64(len(m.Block))
	p.report()
	return links, nil
}

// account charges a verified block to the budget and returns its links.
func (p *puller) account(c cid.Cid, blk []byte) ([]cid.Cid, error) {
	if err := p.budget.take(c, len(blk)); err != nil {
		return nil, err
	}
	links, err := boxostore.Links(c, blk)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if c.Type() == cid.Raw {
		p.done += uint64(len(blk))
	}
	// Walked last to first off a stack: reverse so leaves come in file order.
	for i, j := 0, len(links)-1; i < j; i, j = i+1, j-1 {
		links[i], links[j] = links[j], links[i]
	}
	return links, nil
}

func (p *puller) report() {
	if p.progress != nil {
		p.progress(min(p.done, p.ref.Size), p.ref.Size)
	}
}

// names returns every CID of ref's DAG that src can tell: the root, and
// the links of every inner node src holds (leaves are not read), at most
// as many as the budget allows.
func names(ref boxostore.Ref, src *boxostore.Store, b *budget) map[cid.Cid]bool {
	named := map[cid.Cid]bool{ref.CID: true}
	limit := int(b.leaves + b.inner)
	stack := []cid.Cid{ref.CID}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Type() != cid.DagProtobuf {
			continue
		}
		h, _ := boxostore.HashOf(c)
		blk, err := src.Get(h)
		if err != nil {
			continue
		}
		links, err := boxostore.Links(c, blk)
		if err != nil || len(named)+len(links) > limit {
			continue
		}
		for _, l := range links {
			if !named[l] {
				named[l] = true
				stack = append(stack, l)
			}
		}
	}
	return named
}

// give answers want frames from src until the puller's done frame, with
// blocks of ref's DAG only. It returns the puller's verdict.
func give(c *conn, ref boxostore.Ref, src *boxostore.Store, progress func(done, total uint64)) (Stats, error) {
	var st Stats
	b, err := newBudget(ref)
	if err != nil {
		_ = c.end(err)
		return st, err
	}
	named := names(ref, src, b)
	var done uint64
	finish := func(err error) (Stats, error) {
		st.Sent, st.Received = c.sent, c.received
		return st, err
	}
	for {
		m, err := c.read(KindWant)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				_ = c.end(err)
			}
			return finish(err)
		}
		if m.Kind == KindDone {
			return finish(nil)
		}
		st.Rounds++
		for _, w := range m.Want {
			if !named[w] {
				err := fmt.Errorf("%w: %v is not in the DAG of %v", ErrRefused, w, ref.CID)
				_ = c.end(err)
				return finish(err)
			}
		}
		if err := giveRound(c, src, m.Want, &st, func(w cid.Cid, n int) {
			if w.Type() == cid.Raw {
				done += uint64(n)
			}
			if progress != nil {
				progress(min(done, ref.Size), ref.Size)
			}
		}); err != nil {
			return finish(err)
		}
	}
}

// giveRound writes the blocks of one want frame in order (a missing frame
// for a block src lacks), reading the store a few blocks ahead.
func giveRound(c *conn, src *boxostore.Store, want []cid.Cid, st *Stats, sent func(cid.Cid, int)) error {
	stop := make(chan struct{})
	defer close(stop)
	blocks := prefetch(src, want, stop)
	for _, w := range want {
		blk, err := (<-blocks)()
		if err != nil {
			if err := c.write(&Msg{Kind: KindMissing}); err != nil {
				return err
			}
			continue
		}
		if err := c.write(&Msg{Kind: KindBlock, Block: blk}); err != nil {
			return err
		}
		st.Blocks++
		st.BlockBytes += int64(len(blk))
		sent(w, len(blk))
	}
	return nil
}

// prefetch reads the blocks of want from src in order, a few ahead of the
// writer, so that reading the store and writing the stream overlap. The
// channel yields one result per CID; the reader stops early when stop closes.
func prefetch(src *boxostore.Store, want []cid.Cid, stop <-chan struct{}) <-chan func() ([]byte, error) {
	out := make(chan func() ([]byte, error), readAhead)
	go func() {
		for _, w := range want {
			h, _ := boxostore.HashOf(w)
			b, err := src.Get(h)
			select {
			case out <- func() ([]byte, error) { return b, err }:
			case <-stop:
				return
			}
		}
	}()
	return out
}
