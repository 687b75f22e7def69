package procstat

import (
	"sync"
	"time"
)

// Sampler reads a process every interval from Start to Stop and keeps the
// highest RSS it saw. The process is named by a function, so that a
// process restarted under a new PID is followed; a pid of 0, or a failed
// read (the process is gone), is skipped.
type Sampler struct {
	pid      func() int
	interval time.Duration

	mu      sync.Mutex
	peak    uint64
	samples int
	over    func(rss uint64) // called once when RSS first reaches limit
	limit   uint64

	stop chan struct{}
	done chan struct{}
}

// NewSampler returns a sampler of pid() every interval.
func NewSampler(pid func() int, interval time.Duration) *Sampler {
	return &Sampler{pid: pid, interval: interval}
}

// OnLimit makes the sampler call f once, from its goroutine, the first time
// it reads an RSS of limit or more. Call it before Start.
func (s *Sampler) OnLimit(limit uint64, f func(rss uint64)) { s.limit, s.over = limit, f }

// Start takes a first sample and starts sampling.
func (s *Sampler) Start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
}

// Stop takes a last sample, stops sampling and returns the peak RSS.
func (s *Sampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	s.sample()
	return s.Peak()
}

// Peak returns the highest RSS sampled so far (0 if none).
func (s *Sampler) Peak() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Samples returns how many readings succeeded.
func (s *Sampler) Samples() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

func (s *Sampler) sample() {
	pid := s.pid()
	if pid <= 0 {
		return
	}
	st, err := Read(pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.samples++
	s.peak = max(s.peak, st.RSS)
	var fire func(uint64)
	if s.over != nil && s.limit > 0 && st.RSS >= s.limit {
		fire, s.over = s.over, nil
	}
	s.mu.Unlock()
	if fire != nil {
		fire(st.RSS)
	}
}
