package sequencer

import "github.com/clone2clone/c2c/docsync"

// Drive orders everything replica r has to submit with s and feeds the
// entries back to r, until r submits nothing more; it returns the entries
// in order. It is the whole network of one clone and its sequencer, for
// building real logs in tests and tools without one.
func (s *Reference) Drive(r *docsync.Replica) ([]*docsync.Entry, error) {
	var out []*docsync.Entry
	for {
		rd := r.Ready()
		r.Advance()
		if len(rd.Submit) == 0 {
			return out, nil
		}
		for _, env := range rd.Submit {
			e, err := s.Order(env)
			if err != nil {
				return out, err
			}
			out = append(out, e)
			if err := r.HandleEntry(e); err != nil {
				return out, err
			}
		}
	}
}
