package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/iostreams"
)

// TestHelpText walks the command tree: every command users can see has a one-line summary
// (Short), a longer description (Long) and at least one realistic example that runs runnet
// with the command's own path.
func TestHelpText(t *testing.T) {
	streams, _, _, _ := iostreams.Test()
	root := NewRootCmd(NewFactory(streams, func(string) string { return "" }))
	root.InitDefaultHelpCmd()
	n := 0
	walkCommands(root, func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		n++
		path := c.CommandPath()
		switch short := c.Short; {
		case short == "":
			t.Errorf("%s: no Short (one-line summary)", path)
		case strings.Contains(short, "\n"):
			t.Errorf("%s: Short is more than one line: %q", path, short)
		case len(short) > 120:
			t.Errorf("%s: Short is %d characters; keep it to 120 or fewer for the command list", path, len(short))
		case strings.HasSuffix(short, "."):
			t.Errorf("%s: Short ends with a period (cobra lists them as phrases): %q", path, short)
		}
		if len(strings.TrimSpace(c.Long)) <= len(c.Short) {
			t.Errorf("%s: no Long description (or no longer than Short)", path)
		}
		ex := strings.TrimSpace(c.Example)
		if ex == "" {
			t.Errorf("%s: no Example", path)
			return
		}
		// The root's examples start with "runnet"; a subcommand's run it, with or without
		// global flags in between.
		words := strings.Fields(path)
		found := false
		for _, line := range strings.Split(ex, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "runnet" {
				continue
			}
			if containsInOrder(f[1:], words[1:]) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no example line runs %q:\n%s", path, path, c.Example)
		}
	})
	if n < 15 {
		t.Errorf("walked only %d commands", n)
	}
}

// containsInOrder reports whether sub occurs in words in order (not necessarily adjacent).
func containsInOrder(words, sub []string) bool {
	i := 0
	for _, w := range words {
		if i < len(sub) && w == sub[i] {
			i++
		}
	}
	return i == len(sub)
}
