package jupiter

import "github.com/clone2clone/c2c/docsync/ot"

// ToVersion maps pos, a position of the client's text, to the server's text
// at Version (the text without the pending edits): a position inside the
// client's unacknowledged inserts goes to where they were inserted.
func (c *Client) ToVersion(pos int) int {
	if c.buffer != nil {
		pos = ot.UntransformIndex(*c.buffer, pos)
	}
	if c.inflight != nil {
		pos = ot.UntransformIndex(c.inflight.Op, pos)
	}
	return pos
}

// FromVersion maps pos, a position of the server's text at Version, to the
// client's text: another member's caret stays before the client's
// unacknowledged inserts at it.
func (c *Client) FromVersion(pos int) int {
	if c.inflight != nil {
		pos = ot.TransformIndex(c.inflight.Op, pos, false)
	}
	if c.buffer != nil {
		pos = ot.TransformIndex(*c.buffer, pos, false)
	}
	return pos
}

// MapPos maps pos, a position of the server's text at version from, to
// its text at version to, through the entries in between; ok is false if
// they are outside the history kept. own says which entries the caret's
// owner made: those move it past text they inserted exactly at it.
func (s *Server) MapPos(from, to uint64, pos int, own func(*Entry) bool) (int, bool) {
	es, err := s.Entries(from, to)
	if err != nil {
		return 0, false
	}
	for i := range es {
		pos = ot.TransformIndex(es[i].Op, pos, own(&es[i]))
	}
	return pos, true
}
