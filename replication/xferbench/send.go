package xferbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/deliver"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
)

// Content returns n seeded pseudo-random bytes (incompressible, no
// repeated chunk).
func Content(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		x := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(x >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// SendResult is what one send-once-to-many run measured.
type SendResult struct {
	FileBytes  int `json:"file_bytes"`
	Recipients int `json:"recipients"`
	Offline    int `json:"offline_recipients"` // phones started only after the sender saw every delivery
	// UploadBytes: stream bytes the sender's phone sent, from its host's
	// byte counter, from connecting to its clone until the last status.
	UploadBytes int64   `json:"device_upload_bytes"`
	Ratio       float64 `json:"device_upload_ratio"`
	Delivered   int     `json:"delivered"` // recipient statuses the sender's phone saw
	Identical   int     `json:"identical"` // recipient phones that ended with the sender's bytes
	ClonePulled uint64  `json:"clone_pulled_bytes"`
	Seconds     float64 `json:"seconds"` // from the send to the last recipient phone's verified copy
}

// fastRetry is the delivery service's settings for a quick run: retries
// from 50 ms.
func fastRetry() deliver.Params {
	p := deliver.DefaultParams()
	p.RetryMin, p.RetryMax = 50*time.Millisecond, time.Second
	return p
}

// SendToMany sends one file of size bytes from a phone to n other users,
// each a clone with a phone; the last offline phones are started only
// after the sender's phone saw every delivery acknowledged. Every
// recipient phone pulls the file from its clone and compares it.
func SendToMany(ctx context.Context, base string, size, n, offline int) (SendResult, error) {
	r := SendResult{FileBytes: size, Recipients: n, Offline: offline}
	d := deliver.NewMemDirectory()
	var clones []*Clone
	defer func() {
		for _, c := range clones {
			c.Close()
		}
	}()
	for i := 0; i <= n; i++ {
		c, err := NewClone(d, base, fmt.Sprintf("user%d", i))
		if err != nil {
			return r, err
		}
		clones = append(clones, c)
		if err := c.Start(ctx, d, fastRetry()); err != nil {
			return r, err
		}
	}
	phones := make([]*Phone, n+1)
	defer func() {
		for _, p := range phones {
			if p != nil {
				p.Close()
			}
		}
	}()
	for i := 0; i <= n-offline; i++ {
		p, err := clones[i].StartPhone(ctx)
		if err != nil {
			return r, err
		}
		phones[i] = p
	}
	sender := phones[0]
	content := Content(20, size)
	start := time.Now()
	put, err := sender.PutFile(ctx, "f.bin", content, false, nil)
	if err != nil {
		return r, err
	}
	q := &outbox.Request{Text: "once to many", Files: []inbox.Attached{{Name: "f.bin", Ref: put.Ref}}}
	for _, c := range clones[1:] {
		q.To = append(q.To, outbox.Recipient{User: []byte(c.User)})
	}
	id, err := sender.Send(ctx, q)
	if err != nil {
		return r, err
	}
	// Each recipient's status is one network input to the sender's phone.
	if err := sender.WaitNet(ctx, uint64(n)); err != nil {
		return r, fmt.Errorf("the sender's phone waiting for %d statuses: %w", n, err)
	}
	r.UploadBytes = sender.Bytes.GetBandwidthTotals().TotalOut
	r.Ratio = float64(r.UploadBytes) / float64(size)
	_ = sender.Client.View(ctx, func(s *replication.AppSet) {
		a, _ := s.App(outbox.Name)
		for _, st := range a.(*outbox.App).Deliveries(id) {
			if st.State == outbox.Delivered {
				r.Delivered++
			}
		}
	})
	for i := 1; i <= n; i++ {
		if phones[i] == nil {
			if phones[i], err = clones[i].StartPhone(ctx); err != nil {
				return r, err
			}
		}
		got, err := receive(ctx, phones[i])
		if err != nil {
			return r, fmt.Errorf("recipient %d: %w", i, err)
		}
		if bytes.Equal(got, content) {
			r.Identical++
		}
		r.ClonePulled += clones[i].Deliver.Stats().PulledBytes
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// receive waits for the phone's first inbox message and pulls its file.
func receive(ctx context.Context, p *Phone) ([]byte, error) {
	if err := p.WaitNet(ctx, 1); err != nil {
		return nil, err
	}
	var items []*inbox.Item
	_ = p.Client.View(ctx, func(s *replication.AppSet) {
		a, _ := s.App(inbox.Name)
		items = a.(*inbox.App).List()
	})
	if len(items) != 1 || len(items[0].Files) != 1 {
		return nil, errors.New("the inbox does not hold the one message with its file")
	}
	got, _, err := p.Pull(ctx, items[0].Files[0].Ref, nil)
	return got, err
}
