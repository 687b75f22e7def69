package jupiter

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync/ot"
)

// Hello is where a reconnecting client stands. Its in-flight edit travels
// with it, rebased on Version, so the server can apply it (once: counters)
// and acknowledge it inside the bundle.
type Hello struct {
	Epoch    uint64 // the history its version belongs to (0: none yet)
	Version  uint64 // server versions it has applied
	Inflight *Edit  // its unacknowledged edit, Base == Version (nil: none)
	Buffered bool   // it holds edits not yet sent
}

// Bundle brings a client from Hello.Version to To in one message and
// acknowledges its in-flight edit. Either Snapshot is set (the whole text)
// or Op takes the client's text without its buffer (Version plus the
// in-flight edit) to the server's text at To.
type Bundle struct {
	Epoch    uint64
	From, To uint64
	Op       ot.Op
	Snapshot *string
	// Unapplied (with a Snapshot only): the client's in-flight edit is not
	// in the snapshot; it is rebased and sent again. It happens when the
	// client's history is unknown here (the clone restarted) and the
	// device's last applied counter (Restore) is below the edit's.
	Unapplied bool
}

// Bundle answers h: it applies h's in-flight edit unless it was applied
// before, and composes what the client missed. Composition alone would
// break ties differently from the server's one-by-one transformation, so
// the missed ops before the in-flight edit's entry are first transformed
// past it one by one, as the client would have done with a live stream.
// A snapshot is sent instead when it is smaller and the client has no
// buffer, or when the client's version is not in this history.
func (s *Server) Bundle(device string, h Hello) (Bundle, error) {
	b := Bundle{Epoch: s.epoch, From: h.Version, To: s.Version()}
	known := h.Epoch == s.epoch && h.Version >= s.base && h.Version <= s.Version()
	if !known {
		if e := h.Inflight; e != nil {
			if !s.restored {
				// Whether it was applied before is unknowable here.
				return b, fmt.Errorf("%w: client at epoch %x version %d with an edit in flight, server at %x [%d,%d]",
					ErrEpoch, h.Epoch, h.Version, s.epoch, s.base, s.Version())
			}
			b = s.snapshot(b)
			b.Unapplied = s.LastCounter(device) < e.Counter
			return b, nil
		}
		return s.snapshot(b), nil
	}
	var chain []ot.Op // what the client applies, in order
	if e := h.Inflight; e != nil {
		if e.Base != h.Version {
			return b, fmt.Errorf("%w: in-flight edit based on %d, hello at %d", ErrProtocol, e.Base, h.Version)
		}
		if _, _, err := s.Receive(device, *e); err != nil {
			return b, err
		}
		ds := s.devices[device]
		if ds.counter != e.Counter || ds.at < h.Version {
			return b, fmt.Errorf("%w: in-flight edit %d, last applied %d at %d", ErrProtocol, e.Counter, ds.counter, ds.at)
		}
		before, err := s.Entries(h.Version, ds.at)
		if err != nil {
			return b, err
		}
		x := e.Op
		for _, en := range before {
			var hp ot.Op
			if hp, x, err = ot.Transform(en.Op, x); err != nil {
				return b, fmt.Errorf("%w: %w", ErrOp, err)
			}
			chain = append(chain, hp)
		}
		after, err := s.Entries(ds.at+1, s.Version())
		if err != nil {
			return b, err
		}
		for _, en := range after {
			chain = append(chain, en.Op)
		}
		if len(chain) == 0 {
			chain = append(chain, identity(e.Op.TargetLen))
		}
	} else {
		es, err := s.Entries(h.Version, s.Version())
		if err != nil {
			return b, err
		}
		for _, en := range es {
			chain = append(chain, en.Op)
		}
		if len(chain) == 0 {
			chain = append(chain, identity(s.text.Len()))
		}
	}
	b.To = s.Version()
	op, err := composeAll(chain)
	if err != nil {
		return b, err
	}
	b.Op = op
	if !h.Buffered && snapshotSmaller(s.text.String(), op) {
		return s.snapshot(b), nil
	}
	return b, nil
}

func (s *Server) snapshot(b Bundle) Bundle {
	t := s.text.String()
	b.Snapshot, b.Op = &t, ot.Op{}
	return b
}

func identity(n int) ot.Op {
	var op ot.Op
	op.Retain(n)
	return op
}

// composeAll composes ops pairwise, level by level: each level costs
// O(total components), so n ops take O(total log n) instead of the
// O(n x components) of folding them one by one into a growing op.
func composeAll(ops []ot.Op) (ot.Op, error) {
	level := ops
	for len(level) > 1 {
		next := make([]ot.Op, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			c, err := ot.Compose(level[i], level[i+1])
			if err != nil {
				return ot.Op{}, fmt.Errorf("%w: %w", ErrOp, err)
			}
			next = append(next, c)
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0], nil
}

func snapshotSmaller(text string, op ot.Op) bool {
	enc, err := op.MarshalBinary()
	return err != nil || len(text) < len(enc)
}
