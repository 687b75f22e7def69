package jupiter

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Edit is a device's op based on server version Base, numbered Counter by
// its device (1, 2, ...; each counter is applied at most once).
type Edit struct {
	Counter uint64
	Base    uint64
	Op      ot.Op
}

// Entry is one op of the server history: Device is empty for a remote
// update, else the device whose edit (Counter) it is. A remote update
// names the committed entry it came from (Seq and Author; zero for an
// edit made on the clone and not committed yet).
type Entry struct {
	Op      ot.Op
	Device  string
	Counter uint64
	Seq     uint64
	Author  [32]byte
}

// Params bound the server's memory.
type Params struct {
	// MaxHistory is the most entries kept; older ones are dropped, and a
	// client further behind with buffered edits gets ErrBase.
	MaxHistory int
}

// DefaultParams keeps a million entries (a few tens of MB for typing).
func DefaultParams() Params { return Params{MaxHistory: 1 << 20} }

type deviceState struct {
	counter uint64 // last counter applied
	at      uint64 // version of its entry
}

// Server is the clone side of the device link for one document.
type Server struct {
	epoch   uint64
	params  Params
	text    *ot.Doc
	base    uint64 // version of hist[0]
	hist    []Entry
	devices map[string]*deviceState
	// restored: devices holds every counter ever applied (Restore ran).
	restored bool
}

// NewServer starts a history named epoch (pick it at random per start) over
// the clone's current text.
func NewServer(epoch uint64, text string, p Params) *Server {
	if p.MaxHistory < 1 {
		p.MaxHistory = DefaultParams().MaxHistory
	}
	return &Server{epoch: epoch, params: p, text: ot.NewDoc(text), devices: map[string]*deviceState{}}
}

// Epoch names this history.
func (s *Server) Epoch() uint64 { return s.epoch }

// Version is the number of ops applied since the history started.
func (s *Server) Version() uint64 { return s.base + uint64(len(s.hist)) }

// Text is the clone's text as the server tracks it.
func (s *Server) Text() string { return s.text.String() }

// Len is the length of Text in code points.
func (s *Server) Len() int { return s.text.Len() }

// Entries returns the history entries [from, to) (shared, do not modify).
func (s *Server) Entries(from, to uint64) ([]Entry, error) {
	if from < s.base || to > s.Version() || from > to {
		return nil, fmt.Errorf("%w: [%d,%d) of [%d,%d)", ErrBase, from, to, s.base, s.Version())
	}
	return s.hist[from-s.base : to-s.base], nil
}

// Remote records an op applied to the clone's text by anyone else (a remote
// update, a reverted edit).
func (s *Server) Remote(op ot.Op) error { return s.RemoteFrom(op, 0, [32]byte{}) }

// RemoteFrom is Remote for the op of the committed entry seq by author.
func (s *Server) RemoteFrom(op ot.Op, seq uint64, author [32]byte) error {
	if err := s.text.Apply(op); err != nil {
		return fmt.Errorf("%w: %w", ErrOp, err)
	}
	s.append(Entry{Op: op, Seq: seq, Author: author})
	return nil
}

func (s *Server) append(e Entry) {
	s.hist = append(s.hist, e)
	// Reslicing keeps the trim amortized O(1): append reallocates (and so
	// drops the trimmed prefix) only when capacity runs out. Entries never
	// change in place, so slices handed out stay valid.
	if over := len(s.hist) - s.params.MaxHistory; over > 0 {
		s.hist = s.hist[over:]
		s.base += uint64(over)
	}
}

// Receive transforms a device edit into the current text and applies it.
// It returns the op applied to the clone's text, or dup = true if that
// counter was applied before (nothing changes).
func (s *Server) Receive(device string, e Edit) (applied ot.Op, dup bool, err error) {
	ds := s.devices[device]
	if ds != nil && e.Counter <= ds.counter {
		return ot.Op{}, true, nil
	}
	if e.Counter == 0 {
		return ot.Op{}, false, fmt.Errorf("%w: counter 0", ErrProtocol)
	}
	past, err := s.Entries(e.Base, s.Version())
	if err != nil {
		return ot.Op{}, false, err
	}
	op := e.Op
	for _, h := range past {
		// The history is ordered first: its inserts win ties.
		if _, op, err = ot.Transform(h.Op, op); err != nil {
			return ot.Op{}, false, fmt.Errorf("%w: %w", ErrOp, err)
		}
	}
	if err := s.text.Apply(op); err != nil {
		return ot.Op{}, false, fmt.Errorf("%w: %w", ErrOp, err)
	}
	if ds == nil {
		ds = &deviceState{}
		s.devices[device] = ds
	}
	ds.counter, ds.at = e.Counter, s.Version()
	s.append(Entry{Op: op, Device: device, Counter: e.Counter})
	return op, false, nil
}

// Restore declares the last counter applied for every device before this
// history started (the clone persisted them; a device missing from counters
// applied none). A device reconnecting from an older history with an edit
// in flight then learns whether to resend it, instead of ErrEpoch.
func (s *Server) Restore(counters map[string]uint64) {
	for device, c := range counters {
		ds := s.devices[device]
		if ds == nil {
			ds = &deviceState{}
			s.devices[device] = ds
		}
		ds.counter = max(ds.counter, c)
	}
	s.restored = true
}

// LastCounter is the last counter applied for device (0 if none).
func (s *Server) LastCounter(device string) uint64 {
	if ds := s.devices[device]; ds != nil {
		return ds.counter
	}
	return 0
}
