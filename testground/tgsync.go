package main

import (
	"context"
	"fmt"

	"github.com/clone2clone/c2c/scenario"
	"github.com/testground/sdk-go/sync"
)

// tgSync implements scenario.Sync on Testground's sync service: every
// instance publishes on the topic and reads until it has all n messages.
type tgSync struct {
	client sync.Client
	n      int
}

// gathered is one instance's message on a gather topic.
type gathered struct {
	Index int    `json:"index"`
	Data  []byte `json:"data"`
}

func (s *tgSync) Gather(ctx context.Context, topic string, index int, data []byte) ([][]byte, error) {
	t := sync.NewTopic("c2c-"+topic, &gathered{})
	ch := make(chan *gathered, s.n)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, _, err := s.client.PublishSubscribe(sctx, t, &gathered{Index: index, Data: data}, ch); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", scenario.ErrGather, topic, err)
	}
	out := make([][]byte, s.n)
	seen := make([]bool, s.n)
	for got := 0; got < s.n; {
		select {
		case m := <-ch:
			if m.Index < 0 || m.Index >= s.n {
				return nil, fmt.Errorf("%w: %s: index %d of %d", scenario.ErrGather, topic, m.Index, s.n)
			}
			if !seen[m.Index] {
				seen[m.Index], out[m.Index] = true, m.Data
				got++
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %w", scenario.ErrGather, topic, ctx.Err())
		}
	}
	return out, nil
}
