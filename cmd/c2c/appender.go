package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clone2clone/c2c/control"
)

// appender appends unique tokens to a document through one clone's control
// socket and records which were acknowledged (the call returned success:
// the edit was durable on the clone) and when. The crash test and
// c2c bench abuse's kill_clone use it.
type appender struct {
	name   string
	client *control.Client
	doc    string

	mu      sync.Mutex
	acked   []string
	ackedAt []time.Time // when each acked edit's call returned
	unacked []string
	next    int
	stop    chan struct{}
	done    chan struct{}
}

func (a *appender) start() {
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(15 * time.Millisecond): // pacing, not synchronization
			}
			a.mu.Lock()
			a.next++
			tok := fmt.Sprintf("<%s.%d>", a.name, a.next)
			a.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := a.client.Edit(ctx, a.doc, control.EditRequest{Kind: control.EditAppend, Text: tok})
			cancel()
			a.mu.Lock()
			if err == nil {
				a.acked = append(a.acked, tok)
				a.ackedAt = append(a.ackedAt, time.Now())
			} else {
				a.unacked = append(a.unacked, tok)
			}
			a.mu.Unlock()
		}
	}()
}

func (a *appender) halt() {
	close(a.stop)
	<-a.done
}

func (a *appender) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked)
}

// ackedBefore returns the tokens whose edit was acknowledged before t.
func (a *appender) ackedBefore(t time.Time) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for i, at := range a.ackedAt {
		if at.Before(t) {
			out = append(out, a.acked[i])
		}
	}
	return out
}
