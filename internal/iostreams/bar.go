package iostreams

import (
	"fmt"
	"strings"
)

// BarWidth is the width of a usage bar in cells.
const BarWidth = 12

// Bar draws used out of total as width cells, "████████░░░░": a full cell per share used
// (rounded, but never empty when anything is used and never full when something is left),
// a light shade for the rest. More than total fills every cell and adds "+". A total of 0
// draws an empty bar (or a full one with "+" when something is used).
func Bar(used, total, width int) string {
	if width < 1 {
		width = 1
	}
	over := used > total
	filled := 0
	switch {
	case used <= 0:
	case over:
		filled = width
	default:
		filled = (used*width*2 + total) / (total * 2) // rounded
		filled = min(max(filled, 1), width)
		if used < total && filled == width && width > 1 {
			filled = width - 1
		}
	}
	b := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	if over {
		b += "+"
	}
	return b
}

// BarPercent is Bar followed by the share used as a whole percentage (rounded up, so that a
// bar that is not empty never says 0%): "████████░░░░ 62%".
func BarPercent(used, total, width int) string {
	return fmt.Sprintf("%s %d%%", Bar(used, total, width), percentUp(used, total))
}

func percentUp(used, total int) int {
	switch {
	case used <= 0:
		return 0
	case total <= 0:
		return 100
	}
	return (used*100 + total - 1) / total
}
