package docsim

import "fmt"

// checkTokens checks the token scheme of loadedEdit on the final text:
// every acknowledged edit's token (acked[w] lists writer w's in the order
// it typed them) appears exactly once, each writer's in that order, and
// no other token appears.
func checkTokens(final string, acked [][]rune) error {
	text := []rune(final)
	pos := map[rune]int{}
	for i, c := range text {
		if isToken(c) {
			if _, dup := pos[c]; dup {
				return fmt.Errorf("token %U appears twice", c)
			}
			pos[c] = i
		}
	}
	total := 0
	for w, toks := range acked {
		last := -1
		for k, t := range toks {
			p, ok := pos[t]
			if !ok {
				return fmt.Errorf("writer %d's acknowledged edit %d is missing", w, k)
			}
			if p < last {
				return fmt.Errorf("writer %d's edit %d comes before its edit %d", w, k, k-1)
			}
			last = p
		}
		total += len(toks)
	}
	if total != len(pos) {
		return fmt.Errorf("%d tokens in the text, %d acknowledged", len(pos), total)
	}
	return nil
}
