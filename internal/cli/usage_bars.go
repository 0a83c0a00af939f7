package cli

import (
	"fmt"

	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/internal/printer"
)

// Usage bars: on a terminal, the tables of subnet list, subnet plan and inventory draw how
// full a subnet is as a bar ("████████░░░░ 62%"); piped, and in JSON and YAML, they keep
// plain numbers.

// wantBars reports whether p's output is a table on a terminal.
func wantBars(f *Factory, p *printer.Printer) bool {
	return !p.Structured() && f.IOStreams.IsStdoutTTY()
}

// subnetListBarView is subnet list's table with a usage column: the /28 blocks taken of the
// blocks the subnet has.
type subnetListBarView subnetListView

func (l subnetListBarView) Table() ([]string, [][]string) {
	h, rows := subnetListView(l).Table()
	h = append(h, "usage")
	for i, v := range l {
		rows[i] = append(rows[i], iostreams.BarPercent(v.Blocks-v.FreeBlocks, v.Blocks, iostreams.BarWidth))
	}
	return h, rows
}

// planBarLine is subnet plan's bar: the blocks needed of the blocks the chosen prefix has.
func planBarLine(needed, blocks, prefix int) string {
	return fmt.Sprintf("  %s of a /%d's %d blocks\n", iostreams.BarPercent(needed, blocks, iostreams.BarWidth), prefix, blocks)
}
