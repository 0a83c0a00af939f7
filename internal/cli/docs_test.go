package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The guides (README.md and docs/*.md) show runnet command lines; each must name commands and
// flags that exist, so that the guides fail this test instead of their readers when a command
// changes. Relative links must point at files that exist.
func TestGuidesInSync(t *testing.T) {
	streams, _, _, _ := iostreams.Test()
	root := NewRootCmd(NewFactory(streams, func(string) string { return "" }))
	root.InitDefaultHelpCmd()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	checked := 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		for i, line := range commandLines(string(b)) {
			if msg := checkCommandLine(root, line); msg != "" {
				t.Errorf("%s: command %d %q: %s", name, i+1, line, msg)
			}
			checked++
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
				t.Errorf("%s: broken link %q", name, m[1])
			}
		}
	}
	if checked < 40 {
		t.Errorf("checked only %d command lines in the guides", checked)
	}
}

var (
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// runnetCall finds runnet invoked in a line: "runnet ...", "./runnet ...",
	// "go run ./cmd/runnet ...", also after "$(" or a backquote.
	runnetCall = regexp.MustCompile("(?:^|[\\s(`\"'])(?:go run )?(?:\\./cmd/|\\./)?runnet((?:\\s.*)?)$")
)

// commandLines returns the runnet command lines of a Markdown text: lines of fenced code
// blocks (with backslash continuations joined) and inline code spans that run runnet.
func commandLines(md string) []string {
	var out []string
	inFence := false
	pending := ""
	for _, line := range strings.Split(md, "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			inFence = !inFence
			pending = ""
			continue
		}
		if inFence {
			if strings.HasSuffix(trim, "\\") {
				pending += strings.TrimSuffix(trim, "\\") + " "
				continue
			}
			full := pending + trim
			pending = ""
			if strings.HasPrefix(full, "go build") || strings.HasPrefix(full, "go install") {
				continue // builds runnet, does not run it
			}
			if m := runnetCall.FindStringSubmatch(full); m != nil {
				out = append(out, "runnet"+m[1])
			}
			continue
		}
		for _, span := range inlineCode.FindAllStringSubmatch(line, -1) {
			if m := runnetCall.FindStringSubmatch(span[1]); m != nil && strings.HasPrefix(strings.TrimSpace(span[1]), "runnet") {
				out = append(out, "runnet"+m[1])
			}
		}
	}
	return out
}

var inlineCode = regexp.MustCompile("`([^`]+)`")

// checkCommandLine checks that line runs an existing command with existing flags, and returns
// what is wrong, or "".
func checkCommandLine(root *cobra.Command, line string) string {
	// Stop at what the shell does with the output, or a comment.
	for _, stop := range []string{" | ", " > ", " 2>", " && ", " || ", "; ", " # ", ")", "\"", "'"} {
		if i := strings.Index(line, stop); i >= 0 {
			line = line[:i]
		}
	}
	words := strings.Fields(line)[1:]
	cmd := root
	var flags []string
	positional := false
	for i := 0; i < len(words); i++ {
		w := strings.Trim(words[i], "[]")
		if w == "" {
			continue
		}
		if strings.HasPrefix(w, "-") {
			flags = append(flags, w)
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if f := lookupFlag(cmd, name, strings.HasPrefix(w, "--")); f != nil && f.NoOptDefVal == "" && !hasValue {
				i++ // the flag's value
			}
			continue
		}
		if positional {
			continue
		}
		if sub := findSub(cmd, w); sub != nil {
			cmd = sub
			continue
		}
		if cmd.HasSubCommands() && !isPlaceholder(w) {
			return "unknown command " + cmd.CommandPath() + " " + w
		}
		positional = true
	}
	for _, fl := range flags {
		name, _, _ := strings.Cut(strings.TrimLeft(strings.Trim(fl, "[]"), "-"), "=")
		name = strings.TrimRight(name, ".,:")
		if name == "" || name == "help" {
			continue
		}
		if lookupFlag(cmd, name, strings.HasPrefix(strings.Trim(fl, "[]"), "--")) == nil {
			return "unknown flag " + fl + " for " + cmd.CommandPath()
		}
	}
	return ""
}

func findSub(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

func lookupFlag(cmd *cobra.Command, name string, long bool) *pflag.Flag {
	fs := []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags(), cmd.Root().PersistentFlags()}
	for _, f := range fs {
		if long {
			if fl := f.Lookup(name); fl != nil {
				return fl
			}
			// Flags normalised to another name (attach's --vpc-connector).
			if n := f.GetNormalizeFunc(); n != nil {
				if fl := f.Lookup(string(n(f, name))); fl != nil {
					return fl
				}
			}
			continue
		}
		if fl := f.ShorthandLookup(name); fl != nil {
			return fl
		}
	}
	return nil
}

// isPlaceholder reports whether w stands for a value (NAME, WORKLOAD, SERVICE, a|b) rather
// than a command.
func isPlaceholder(w string) bool {
	return strings.ToUpper(w) == w || strings.Contains(w, "|") || strings.Contains(w, "...")
}

// Every API the emulator serves is named where the emulator is introduced: the table at the
// top of docs/emulator.md, the README and 'runnet emulator --help'. The served APIs come from
// emulator.Methods (what faults and call counts name) and the REST APIs it serves beside them.
func TestEmulatorAPIsListed(t *testing.T) {
	// Method prefixes, and the name each API has in the docs; "" for one listed with another.
	names := []struct{ prefix, name string }{
		{"google.cloud.run.v2.", "Cloud Run Admin"},
		{"google.cloud.vpcaccess.v1.", "Serverless VPC Access"},
		{"vpcaccess.", "Serverless VPC Access"},
		{"google.longrunning.", ""},
		{"google.cloud.location.", ""}, // Locations, of VPC Access
		{"compute.", "Compute Engine"},
		{"google.monitoring.v3.", "Cloud Monitoring"},
		{"google.cloud.asset.v1.", "Cloud Asset"},
		{"cloudbilling.", "Cloud Billing Catalog"},
		{"serviceusage.", "Service Usage"},
	}
	// Served over REST without method names for faults: Resource Manager, and the front
	// door's IAM Credentials.
	apis := []string{"Cloud Resource Manager", "IAM Service Account Credentials"}
	for _, m := range emulator.Methods() {
		i := slices.IndexFunc(names, func(n struct{ prefix, name string }) bool { return strings.HasPrefix(m, n.prefix) })
		switch {
		case i < 0:
			t.Errorf("the emulator serves %s, of an API this test does not name: add it here and to the docs", m)
		case names[i].name != "" && !slices.Contains(apis, names[i].name):
			apis = append(apis, names[i].name)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "emulator.md"))
	if err != nil {
		t.Fatal(err)
	}
	table, _, _ := strings.Cut(string(doc), "Everything is served on")
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, intro, _ := strings.Cut(string(readme), "runnet ships an emulator of the APIs it drives")
	intro, _, _ = strings.Cut(intro, "\n\n")
	streams, _, _, _ := iostreams.Test()
	cmd, _, err := NewRootCmd(NewFactory(streams, func(string) string { return "" })).Find([]string{"emulator"})
	if err != nil {
		t.Fatal(err)
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, api := range apis {
		for where, text := range map[string]string{"docs/emulator.md's first table": table, "README.md": intro, "runnet emulator --help": cmd.Long} {
			if !strings.Contains(flat(text), api) {
				t.Errorf("%s does not name %s, which the emulator serves", where, api)
			}
		}
	}
}
