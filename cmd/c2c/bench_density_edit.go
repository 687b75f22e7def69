package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/node"
)

// edit shares one document among the first --devices clones (created on
// clone 0, the others invited as writers; their owners accept clone 0's
// user as a contact) and has each of their devices connect and type one
// token; it waits until clone 0's text holds every token.
func (r *densityRun) edit(ctx context.Context) error {
	d := r.f.devices
	if d == 0 {
		return nil
	}
	sample := r.clones[:d] // clone k is on provider k mod P: spread over them
	owner := sample[0]
	for _, c := range sample {
		c.control = control.NewClient(filepath.Join(c.dir, control.SocketFile))
	}
	for _, c := range sample[1:] {
		if err := node.OpenContacts(filepath.Join(c.dir, node.ContactsFile)).Add(owner.user); err != nil {
			return err
		}
	}
	seqAddr, err := fileAddr(r.seq.dir)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	doc, err := owner.control.Create(cctx, seqAddr)
	cancel()
	if err != nil {
		return fmt.Errorf("create the document on clone 0: %w", err)
	}
	r.doc = doc
	bar := newNamedProgressBar(r.g.stderr, "c2c bench density")
	for i, c := range sample[1:] {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := owner.control.Invite(ictx, doc, c.user.String(), "phone", "writer")
		cancel()
		if err != nil {
			return fmt.Errorf("invite clone %d: %w", i+1, err)
		}
		bar.step(i+1, d-1, "clones invited")
	}
	bar.done()
	bar = newNamedProgressBar(r.g.stderr, "c2c bench density")
	_, err = pollEvery(ctx, time.Second, 5*time.Minute, "every invited clone holds the document", func() (struct{}, bool, error) {
		n := 0
		for _, c := range sample[1:] {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			in, err := c.control.Show(sctx, doc)
			cancel()
			if err == nil && in.Role == "writer" {
				n++
			}
		}
		bar.step(n, d-1, "invited clones joined")
		return struct{}{}, n == d-1, nil
	})
	bar.done()
	if err != nil {
		return err
	}
	r.res.DocMembers = d
	// The devices: two processes each (connect, then type), 4 devices at once.
	bar = newNamedProgressBar(r.g.stderr, "c2c bench density")
	var next, connected, done atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= d || ctx.Err() != nil {
					return
				}
				err := r.typeOnDevice(ctx, k, doc)
				mu.Lock()
				if err == nil {
					connected.Add(1)
				} else if firstErr == nil {
					firstErr = err
				}
				bar.step(int(done.Add(1)), d, "devices connected and typed")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	bar.done()
	r.res.Devices = int(connected.Load())
	if firstErr != nil {
		r.res.Notes = append(r.res.Notes, "first failed device: "+firstErr.Error())
	}
	var toks []string
	for k := range d {
		toks = append(toks, densityToken(k))
	}
	seen := 0
	_, err = pollEvery(ctx, time.Second, 2*time.Minute, "every device's edit reaches clone 0", func() (struct{}, bool, error) {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		in, err := owner.control.Show(sctx, doc)
		cancel()
		if err != nil {
			return struct{}{}, false, nil
		}
		seen = 0
		for _, t := range toks {
			if strings.Contains(in.Text, t) {
				seen++
			}
		}
		return struct{}{}, seen == r.res.Devices, nil
	})
	r.res.EditsDelivered = seen
	if err != nil {
		r.res.Notes = append(r.res.Notes, err.Error())
	}
	r.say("%d devices typed, %d edits reached clone 0", r.res.Devices, seen)
	return ctx.Err()
}

func densityToken(k int) string { return fmt.Sprintf("<d%05d>", k) }

// typeOnDevice connects clone k's device (c2c device connect) and types
// its token into doc (c2c device type, which returns once the clone took
// the edit).
func (r *densityRun) typeOnDevice(ctx context.Context, k int, doc string) error {
	c := r.clones[k]
	addr, err := fileAddr(c.dir)
	if err != nil {
		return err
	}
	if _, err := runCommand(ctx, r.bin, r.cmdLog, 2*time.Minute, "device", "connect", "--data", c.devDir, "--log-level", "warn",
		"--clone", addr, "--user", c.user.String(), "--name", "phone", "--key", c.devKey); err != nil {
		return fmt.Errorf("device %d: %w", k, err)
	}
	if _, err := runCommand(ctx, r.bin, r.cmdLog, 2*time.Minute, "device", "type", "--data", c.devDir, "--log-level", "warn",
		doc, densityToken(k)); err != nil {
		return fmt.Errorf("device %d: %w", k, err)
	}
	return nil
}
