package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The guides' examples run as written. TestDocsExamplesRun takes every fenced runnet command
// of getting-started.md, emulator.md, ci.md and connectors.md (the shell blocks, and the run steps of
// ci.md's workflows), in the order of the page, and runs them with bash against an emulator:
// the embedded one for --emulator commands (state in the test's directory), else one seeded
// with the demo world at RUNNET_EMULATOR_HOST. Each block must succeed (each workflow step
// must end with the exit status listed in ciStepCodes). The few commands that cannot run
// here are listed in docSkips with the reason, and the few changes the test makes are listed
// in docRewrites.

// docSkips are the commands of the guides that the test does not run, and why.
var docSkips = []struct{ doc, contains, reason string }{
	{"getting-started.md", "--project my-project", "needs a real project (my-project) and Application Default Credentials"},
	{"getting-started.md", "run-<TAB>", "shows shell completion: <TAB> is a key press"},
	{"emulator.md", "[--listen 127.0.0.1:0]", "the synopsis of 'runnet emulator start', not a command"},
}

// docRewrites are the changes the test makes to a guide's commands before running them.
var docRewrites = []struct{ doc, old, new, reason string }{
	{"", "go run ./cmd/runnet", "runnet", "the test's runnet is on PATH"},
	{"", "./runnet", "runnet", "the test's runnet is on PATH"},
	{"ci.md", "--step-wait 2m", "--step-wait 20ms", "a test does not wait four minutes between canary steps"},
	{"ci.md", "$$", "$", "Cloud Build's own substitution of $$ by $"},
	{"ci.md", "/workspace/", "", "Cloud Build's workspace is the test's directory"},
}

// ciStepCodes are the workflow steps of ci.md (by the first words of their run script) whose
// exit status is not 0 against the demo world, and why.
var ciStepCodes = []struct {
	contains string
	code     int
	reason   string
}{
	{"runnet status --format json > status.json", 1, "the check fails while a workload uses a connector: nightly-export still does"},
}

// ciEnv is the environment of ci.md's workflow steps in the test: the inputs and variables
// the workflows take from GitHub and Cloud Build, pointed at the emulator's world.
var ciEnv = map[string]string{
	"WORKLOAD":              "run-service",
	"CLOUDSDK_CORE_PROJECT": emulator.DemoProject, // the workflows say my-project: refused by the emulator (exit 2)
	"CLOUDSDK_RUN_REGION":   emulator.DemoRegion,
	"PROJECT_ID":            emulator.DemoProject,
}

func TestDocsExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every example of four guides, about a minute")
	}
	dir := t.TempDir()
	for _, doc := range []string{"getting-started.md", "emulator.md", "ci.md", "connectors.md"} {
		md, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		script, n := docScript(t, doc, string(md))
		if n == 0 {
			t.Fatalf("%s: no command to run", doc)
		}
		name := strings.TrimSuffix(doc, ".md") + ".txtar"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, harness.ScriptParams(dir, harness.Scripts, func(env *testscript.Env) {
		env.Setenv(EnvEmulatorState, env.WorkDir+"/embedded-state.json")
	}))
}

// docScript turns a guide into a test script: one bash file per fenced block (or workflow
// step) that runs runnet, each run in turn. It returns the script and how many runnet
// commands it runs.
func docScript(t *testing.T, doc, md string) (string, int) {
	var cmds, files strings.Builder
	fmt.Fprintf(&cmds, "# The examples of docs/%s, in order.\n[!exec:bash] skip\n", doc)
	n, blockN := 0, 0
	addFile := func(body string, code int, why string) {
		blockN++
		name := fmt.Sprintf("block%02d.sh", blockN)
		if why != "" {
			fmt.Fprintf(&cmds, "# %s\n", why)
		}
		if code == 0 {
			fmt.Fprintf(&cmds, "exec bash -e %s\n", name)
		} else {
			fmt.Fprintf(&cmds, "exits %d bash -e %s\n", code, name)
		}
		fmt.Fprintf(&files, "-- %s --\n%s", name, body)
	}
	for _, b := range fencedBlocks(md) {
		if b.lang == "yaml" {
			if doc != "ci.md" {
				continue
			}
			for _, step := range workflowSteps(b.lines) {
				body, k := shellLines(t, doc, step)
				if k == 0 {
					continue
				}
				if strings.Contains(body, "jq ") && !haveJQ() {
					t.Logf("%s: skipped a step that needs jq, which is not installed", doc)
					continue
				}
				code, why := 0, ""
				for _, c := range ciStepCodes {
					if strings.Contains(body, c.contains) {
						code, why = c.code, c.reason
					}
				}
				var env strings.Builder
				for _, k := range []string{"WORKLOAD", "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_RUN_REGION", "PROJECT_ID"} {
					fmt.Fprintf(&env, "export %s=%s\n", k, ciEnv[k])
				}
				addFile(env.String()+body, code, why)
				n += k
			}
			continue
		}
		if b.lang != "" && b.lang != "sh" && b.lang != "bash" && b.lang != "shell" {
			continue
		}
		body, k := shellLines(t, doc, b.lines)
		if k == 0 {
			continue
		}
		if strings.Contains(body, "jq ") && !haveJQ() {
			t.Logf("%s: skipped a block that needs jq, which is not installed", doc)
			continue
		}
		addFile(body, 0, "")
		n += k
	}
	return cmds.String() + "\n" + files.String(), n
}

func haveJQ() bool {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "jq")); err == nil {
			return true
		}
	}
	return false
}

type mdBlock struct {
	lang  string
	lines []string
}

// fencedBlocks returns a Markdown text's fenced code blocks.
func fencedBlocks(md string) []mdBlock {
	var out []mdBlock
	var cur *mdBlock
	for _, line := range strings.Split(md, "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			if cur == nil {
				cur = &mdBlock{lang: strings.TrimPrefix(trim, "```")}
			} else {
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, line)
		}
	}
	return out
}

var (
	// runStep finds a workflow step's script: "run: |" (a block) or "run: COMMAND"; and
	// Cloud Build's "- |" argument.
	runBlock = regexp.MustCompile(`^(\s*)(?:- )?(?:run: \||- \|)\s*$`)
	runLine  = regexp.MustCompile(`^\s*(?:- )?run: (.+)$`)
)

// workflowSteps returns the shell scripts of a workflow's steps.
func workflowSteps(lines []string) [][]string {
	var out [][]string
	for i := 0; i < len(lines); i++ {
		if m := runBlock.FindStringSubmatch(lines[i]); m != nil {
			indent := len(m[1])
			var step []string
			j := i + 1
			for ; j < len(lines); j++ {
				l := lines[j]
				if strings.TrimSpace(l) != "" && len(l)-len(strings.TrimLeft(l, " ")) <= indent {
					break
				}
				step = append(step, l)
			}
			out = append(out, dedent(step))
			i = j - 1
			continue
		}
		if m := runLine.FindStringSubmatch(lines[i]); m != nil {
			out = append(out, []string{m[1]})
		}
	}
	return out
}

func dedent(lines []string) []string {
	min := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " ")); min < 0 || n < min {
			min = n
		}
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if len(l) >= min && min > 0 {
			l = l[min:]
		}
		out = append(out, l)
	}
	return out
}

// shellLines keeps the lines of a block that a shell runs for the guide's runnet commands: the
// runnet commands (rewritten as docRewrites says; skipped as docSkips says) and the shell lines
// around them (variables, eval, kill, echo, jq, case, ...), dropping what is not runnet's to
// run (gcloud, go build/install, a transcript's "$ " lines). It returns the script and how
// many runnet commands it has.
func shellLines(t *testing.T, doc string, lines []string) (string, int) {
	var b strings.Builder
	n := 0
	// Join backslash continuations first.
	var joined []string
	pending := ""
	for _, l := range lines {
		if strings.HasSuffix(strings.TrimRight(l, " "), "\\") {
			pending += strings.TrimSuffix(strings.TrimRight(l, " "), "\\") + " "
			continue
		}
		joined = append(joined, pending+l)
		pending = ""
	}
	for _, l := range joined {
		trim := strings.TrimSpace(l)
		switch {
		case trim == "" || strings.HasPrefix(trim, "#"):
			continue
		case strings.HasPrefix(trim, "$ "):
			continue // a transcript of runnet demo's output, not a command
		case strings.HasPrefix(trim, "gcloud "), strings.HasPrefix(trim, "go build"), strings.HasPrefix(trim, "go install"):
			continue // not runnet's: the test has runnet on PATH, and no gcloud or project
		}
		for _, r := range docRewrites {
			if r.doc == "" || r.doc == doc {
				l = strings.ReplaceAll(l, r.old, r.new)
			}
		}
		skipped := false
		for _, s := range docSkips {
			if s.doc == doc && strings.Contains(l, s.contains) {
				t.Logf("%s: not run: %s (%s)", doc, strings.TrimSpace(l), s.reason)
				skipped = true
			}
		}
		if skipped {
			continue
		}
		if runnetCall.MatchString(strings.TrimSpace(l)) {
			n++
		}
		b.WriteString(l + "\n")
	}
	if n == 0 {
		return "", 0
	}
	return b.String(), n
}
