package presence

import (
	"crypto/sha256"
	"fmt"
	"math"

	"github.com/clone2clone/c2c/docsync"
)

// Color is member's caret colour, "#rrggbb": a hue drawn from a hash of
// the member ID at fixed saturation and lightness, so that it is the same
// on every device, stable across sessions, and readable on white.
func Color(member docsync.MemberID) string {
	h := sha256.Sum256(append([]byte("c2c presence colour\x00"), member[:]...))
	hue := float64(uint16(h[0])<<8|uint16(h[1])) / 65536 * 360
	r, g, b := hsl(hue, 0.65, 0.45)
	return fmt.Sprintf("#%02x%02x%02x", r, g, b)
}

// hsl converts a colour to 8-bit RGB (hue in degrees, s and l in [0, 1]).
func hsl(hue, s, l float64) (r, g, b uint8) {
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(hue/60, 2)-1))
	m := l - c/2
	var rf, gf, bf float64
	switch {
	case hue < 60:
		rf, gf = c, x
	case hue < 120:
		rf, gf = x, c
	case hue < 180:
		gf, bf = c, x
	case hue < 240:
		gf, bf = x, c
	case hue < 300:
		rf, bf = x, c
	default:
		rf, bf = c, x
	}
	to8 := func(v float64) uint8 { return uint8(math.Round((v + m) * 255)) }
	return to8(rf), to8(gf), to8(bf)
}
