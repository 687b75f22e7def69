package ot

// Positions (carets, selection ends) between code points: 0 is before the
// first, BaseLen after the last. Presence carets refer to one version of a
// text and are moved through the ops applied since, so that a caret stays
// on the same character while others type.

// TransformIndex maps pos, a position of o's input, to o's output: a caret
// before a character stays before that character; one inside deleted text
// goes to where the deletion was. An insert exactly at pos moves it past
// the inserted text only if after is set (the caret's owner typed it).
// pos is clamped to [0, BaseLen].
func TransformIndex(o Op, pos int, after bool) int {
	pos = min(max(pos, 0), o.BaseLen)
	in, out := 0, 0
	for _, c := range o.Comps {
		switch c.Kind {
		case Retain:
			if pos < in+c.N {
				return out + pos - in
			}
			in += c.N
			out += c.N
		case Insert:
			if pos == in && !after {
				return out
			}
			out += c.N
		case Delete:
			if pos < in+c.N {
				return out
			}
			in += c.N
		}
	}
	return min(out+pos-in, o.TargetLen)
}

// UntransformIndex maps pos, a position of o's output, back to o's input:
// a position inside or at either end of inserted text goes to where the
// insert was. It undoes TransformIndex for a caret whose character o kept.
// pos is clamped to [0, TargetLen].
func UntransformIndex(o Op, pos int) int {
	pos = min(max(pos, 0), o.TargetLen)
	in, out := 0, 0
	for _, c := range o.Comps {
		switch c.Kind {
		case Retain:
			if pos < out+c.N {
				return in + pos - out
			}
			in += c.N
			out += c.N
		case Insert:
			if pos <= out+c.N {
				return in
			}
			out += c.N
		case Delete:
			if pos == out {
				return in
			}
			in += c.N
		}
	}
	return min(in+pos-out, o.BaseLen)
}
