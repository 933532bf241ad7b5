package natsort

import (
	"cmp"
	"strings"
)

// Compare returns -1, 0 or +1 as a sorts before, with or after b. Runs of
// digits compare by value, whatever their length; strings that differ only
// in leading zeros (eth01, eth1) fall back to byte order, so Compare is 0
// only for equal strings and a sort by it never depends on input order.
func Compare(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		dx, dy := leadingDigits(x), leadingDigits(y)
		if dx > 0 && dy > 0 {
			nx, ny := strings.TrimLeft(x[:dx], "0"), strings.TrimLeft(y[:dy], "0")
			// Without leading zeros the longer number is the larger;
			// at equal length the digits compare as bytes.
			if c := cmp.Or(cmp.Compare(len(nx), len(ny)), strings.Compare(nx, ny)); c != 0 {
				return c
			}
			x, y = x[dx:], y[dy:]
			continue
		}
		if x[0] != y[0] {
			return cmp.Compare(x[0], y[0])
		}
		x, y = x[1:], y[1:]
	}
	return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(a, b))
}

// Less reports whether a sorts before b, for sort.Slice and the like.
func Less(a, b string) bool { return Compare(a, b) < 0 }

func leadingDigits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
