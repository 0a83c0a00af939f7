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

// Help for a command that does not exist is a usage error naming it, with close names, as
// gcloud's "Invalid choice": not the help of the nearest command with exit status 0, which
// reads as if the command existed. Help for commands that exist still works every way.
func TestHelpForUnknownCommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"permissions", "--help"}, `Error: unknown command "permissions" for "runnet"` + "\n"},
		{[]string{"bogus", "-h"}, `Error: unknown command "bogus" for "runnet"` + "\n"},
		{[]string{"statu", "--help"}, `Error: unknown command "statu" for "runnet"; did you mean "status"?` + "\n"},
		{[]string{"statu"}, `Error: unknown command "statu" for "runnet"; did you mean "status"?` + "\n"},
		{[]string{"--project", "p", "migrat", "--help"}, `did you mean "migrate"?`},
		{[]string{"subnet", "creat", "--help"}, `Error: unknown command "creat" for "runnet subnet"; did you mean "create"?` + "\n"},
		{[]string{"help", "bogus"}, `Error: unknown command "bogus" for "runnet"` + "\n"},
		{[]string{"help", "connector", "bogus"}, `Error: unknown command "bogus" for "runnet connector"` + "\n"},
	} {
		r := runCLI(t, false, tt.args)
		if r.Code != 2 || r.Stdout != "" || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("%q: exit %d, stdout %.60q, stderr %q; want exit 2, no stdout, %q", tt.args, r.Code, r.Stdout, r.Stderr, tt.want)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Available Commands:"},
		{[]string{"help"}, "Available Commands:"},
		{[]string{"-h"}, "Available Commands:"},
		{[]string{"help", "migrate"}, "runnet migrate (WORKLOAD"},
		{[]string{"migrate", "--help"}, "runnet migrate (WORKLOAD"},
		{[]string{"help", "subnet", "create"}, "runnet subnet create NAME"},
		{[]string{"subnet", "--help"}, "Available Commands:"},
		{[]string{"subnet"}, "Available Commands:"},
		{[]string{"status", "run-service", "--help"}, "runnet status"},
	} {
		r := runCLI(t, false, tt.args)
		if r.Code != 0 || !strings.Contains(r.Stdout, tt.want) || r.Stderr != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout lacks %q:\n%.300s", tt.args, r.Code, r.Stderr, tt.want, r.Stdout)
		}
	}
}
