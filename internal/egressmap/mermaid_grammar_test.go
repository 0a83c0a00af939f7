package egressmap

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The subset of Mermaid's flowchart grammar that WriteMermaid emits, line by line. A label
// is a double-quoted string with no raw quote, and no character Mermaid would read as syntax
// or HTML: '#' only starts an entity code, '<' only in <br/>.
var (
	mmdLabel     = `"((?:[^"#<>&|` + "`" + `]|#[a-z]+;|#[0-9]+;|<br/>)*)"`
	mmdID        = `([A-Za-z0-9_]+)`
	mmdComment   = regexp.MustCompile(`^%%( .*)?$`)
	mmdHeader    = regexp.MustCompile(`^flowchart (LR|RL|TB|TD|BT)$`)
	mmdSubgraph  = regexp.MustCompile(`^\s*subgraph ` + mmdID + `\[` + mmdLabel + `\]$`)
	mmdDirection = regexp.MustCompile(`^\s*direction (LR|RL|TB|TD|BT)$`)
	mmdEnd       = regexp.MustCompile(`^\s*end$`)
	mmdNode      = regexp.MustCompile(`^\s*` + mmdID + `(?:\{\{` + mmdLabel + `\}\}|\[\[` + mmdLabel + `\]\]|\(` + mmdLabel + `\))$`)
	mmdEdge      = regexp.MustCompile(`^\s*` + mmdID + ` (-->|-\.->)\|` + mmdLabel + `\| ` + mmdID + `$`)
	mmdClassDef  = regexp.MustCompile(`^\s*classDef ` + mmdID + ` ([a-z-]+:[^,;]+(?:,[a-z-]+:[^,;]+)*)$`)
	mmdClass     = regexp.MustCompile(`^\s*class ` + mmdID + `((?:,[A-Za-z0-9_]+)*) ` + mmdID + `$`)
	mmdEntity    = regexp.MustCompile(`#([a-z]+|[0-9]+);`)
)

// Words Mermaid's flowchart lexer takes as keywords, which must not be node ids.
var mmdKeywords = map[string]bool{
	"end": true, "subgraph": true, "flowchart": true, "graph": true, "class": true, "classDef": true,
	"style": true, "linkStyle": true, "click": true, "direction": true, "call": true, "href": true, "default": true,
}

// checkMermaid checks src against the grammar above and its rules: the header first, ids
// declared once and never keywords, subgraph and end balanced, edges and classes naming
// declared nodes, classes naming defined styles, each node in exactly one class, and known
// entity codes.
func checkMermaid(src string) error {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	nodes, classDefs, classOf := map[string]bool{}, map[string]bool{}, map[string]string{}
	subgraphs := map[string]bool{}
	depth, header := 0, false
	entities := map[string]bool{"quot": true, "amp": true, "lt": true, "gt": true}
	checkLabels := func(n int, labels ...string) error {
		for _, l := range labels {
			for _, m := range mmdEntity.FindAllStringSubmatch(l, -1) {
				if m[1][0] < '0' || m[1][0] > '9' {
					if !entities[m[1]] {
						return fmt.Errorf("line %d: unknown entity #%s;", n, m[1])
					}
				}
			}
		}
		return nil
	}
	useID := func(n int, id string) error {
		if !nodes[id] {
			return fmt.Errorf("line %d: %q is not a declared node", n, id)
		}
		return nil
	}
	declare := func(n int, id string, set map[string]bool) error {
		if mmdKeywords[id] || mmdKeywords[strings.ToLower(id)] {
			return fmt.Errorf("line %d: id %q is a keyword", n, id)
		}
		if nodes[id] || subgraphs[id] {
			return fmt.Errorf("line %d: id %q declared twice", n, id)
		}
		set[id] = true
		return nil
	}
	for i, line := range lines {
		n := i + 1
		if strings.TrimSpace(line) == "" {
			return fmt.Errorf("line %d: empty line", n)
		}
		if strings.HasPrefix(line, "%%") {
			if strings.HasPrefix(line, "%%{") || !mmdComment.MatchString(line) {
				return fmt.Errorf("line %d: bad comment or a directive: %q", n, line)
			}
			continue
		}
		if !header {
			if !mmdHeader.MatchString(line) {
				return fmt.Errorf("line %d: want the flowchart header first, got %q", n, line)
			}
			header = true
			continue
		}
		var err error
		switch {
		case mmdSubgraph.MatchString(line):
			m := mmdSubgraph.FindStringSubmatch(line)
			if err = declare(n, m[1], subgraphs); err == nil {
				err = checkLabels(n, m[2])
			}
			depth++
		case mmdDirection.MatchString(line):
			if depth == 0 {
				err = fmt.Errorf("line %d: direction outside a subgraph", n)
			}
		case mmdEnd.MatchString(line):
			if depth--; depth < 0 {
				err = fmt.Errorf("line %d: end without subgraph", n)
			}
		case mmdNode.MatchString(line):
			m := mmdNode.FindStringSubmatch(line)
			if err = declare(n, m[1], nodes); err == nil {
				err = checkLabels(n, m[2], m[3], m[4])
			}
		case mmdEdge.MatchString(line):
			m := mmdEdge.FindStringSubmatch(line)
			if err = useID(n, m[1]); err == nil {
				if err = useID(n, m[4]); err == nil {
					err = checkLabels(n, m[3])
				}
			}
		case mmdClassDef.MatchString(line):
			m := mmdClassDef.FindStringSubmatch(line)
			if classDefs[m[1]] {
				err = fmt.Errorf("line %d: classDef %s twice", n, m[1])
			}
			classDefs[m[1]] = true
		case mmdClass.MatchString(line):
			m := mmdClass.FindStringSubmatch(line)
			ids := append([]string{m[1]}, strings.Split(strings.TrimPrefix(m[2], ","), ",")...)
			if m[2] == "" {
				ids = ids[:1]
			}
			if !classDefs[m[3]] {
				err = fmt.Errorf("line %d: class %s has no classDef", n, m[3])
			}
			for _, id := range ids {
				if err == nil {
					err = useID(n, id)
				}
				if prev, ok := classOf[id]; ok && err == nil {
					err = fmt.Errorf("line %d: node %s in classes %s and %s", n, id, prev, m[3])
				}
				classOf[id] = m[3]
			}
		default:
			err = fmt.Errorf("line %d: not a flowchart statement: %q", n, line)
		}
		if err != nil {
			return err
		}
	}
	switch {
	case !header:
		return fmt.Errorf("no flowchart header")
	case depth != 0:
		return fmt.Errorf("%d subgraph(s) not closed", depth)
	}
	for id := range nodes {
		if _, ok := classOf[id]; !ok {
			return fmt.Errorf("node %s has no class", id)
		}
	}
	return nil
}

func TestMermaidGrammar(t *testing.T) {
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			src := render(t, mermaid, fx())
			if err := checkMermaid(string(src)); err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			// Every workload, connector and subnet is a node.
			m := fx()
			g := buildGraph(m)
			for _, p := range g.projects {
				for _, n := range p.nodes {
					if !bytes.Contains(src, []byte("\n    "+n.id)) {
						t.Errorf("node %s (%s) missing", n.id, n.key)
					}
				}
			}
		})
	}
}

// The checker itself rejects what Mermaid would not parse, or would parse differently.
func TestMermaidGrammarChecker(t *testing.T) {
	ok := "flowchart LR\n  subgraph p[\"x\"]\n    a(\"a<br/>b\")\n    b{{\"c #quot;d#quot;\"}}\n  end\n  a -->|\"e\"| b\n  classDef k fill:#fff,stroke-dasharray:5 3\n  class a,b k\n"
	if err := checkMermaid(ok); err != nil {
		t.Fatalf("a valid chart was refused: %v", err)
	}
	bad := map[string]string{
		"raw quote":        strings.Replace(ok, `"a<br/>b"`, `"a"b"`, 1),
		"raw angle":        strings.Replace(ok, `"a<br/>b"`, `"a<b>"`, 1),
		"raw hash":         strings.Replace(ok, `"e"`, `"#e"`, 1),
		"pipe in edge":     strings.Replace(ok, `"e"`, `"e|f"`, 1),
		"keyword id":       strings.ReplaceAll(ok, "a", "end"),
		"unbalanced":       strings.Replace(ok, "  end\n", "", 1),
		"extra end":        ok + "  end\n",
		"undeclared edge":  strings.Replace(ok, "-->|\"e\"| b", "-->|\"e\"| z", 1),
		"no classDef":      strings.Replace(ok, "class a,b k", "class a,b q", 1),
		"node unclassed":   strings.Replace(ok, "class a,b k", "class a k", 1),
		"bad id":           strings.Replace(ok, "    a(", "    a-b(", 1),
		"twice":            strings.Replace(ok, "  end\n", "    a(\"x\")\n  end\n", 1),
		"directive":        "%%{init: {}}%%\n" + ok,
		"no header":        strings.Replace(ok, "flowchart LR\n", "", 1),
		"unknown entity":   strings.Replace(ok, "#quot;d", "#bogus;d", 1),
		"garbage":          ok + "  a --> b\n",
		"empty line":       strings.Replace(ok, "  end\n", "  end\n\n", 1),
		"direction at top": strings.Replace(ok, "flowchart LR\n", "flowchart LR\n  direction TB\n", 1),
	}
	for name, src := range bad {
		if err := checkMermaid(src); err == nil {
			t.Errorf("%s: accepted:\n%s", name, src)
		}
	}
}

// TestMermaidCLI renders the fixtures with the Mermaid CLI (mmdc) when it is installed, or
// through npx when RUNNET_MERMAID_CLI=npx (it downloads the CLI; Chromium comes from
// /usr/bin/chromium through a puppeteer configuration, as puppeteer's own browser download
// does not work offline). Otherwise it is skipped: TestMermaidGrammar checks the grammar.
func TestMermaidCLI(t *testing.T) {
	var cmd []string
	switch {
	case os.Getenv("RUNNET_MERMAID_CLI") == "npx":
		if _, err := exec.LookPath("npx"); err != nil {
			t.Skip("RUNNET_MERMAID_CLI=npx but npx is not installed")
		}
		cmd = []string{"npx", "-y", "@mermaid-js/mermaid-cli"}
	default:
		p, err := exec.LookPath("mmdc")
		if err != nil {
			t.Skip("the Mermaid CLI (mmdc) is not installed; TestMermaidGrammar checked the grammar (RUNNET_MERMAID_CLI=npx fetches the CLI with npx)")
		}
		cmd = []string{p}
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed: the Mermaid CLI needs a browser")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "puppeteer.json")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `{"executablePath": %q, "args": ["--no-sandbox", "--headless", "--disable-gpu"]}`, chromium), 0o644); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	names := []string{"fleet", "tricky"}
	for _, name := range names {
		md.WriteString("```mermaid\n")
		md.Write(render(t, mermaid, fixtures[name]()))
		md.WriteString("```\n\n")
	}
	in := filepath.Join(dir, "charts.md")
	if err := os.WriteFile(in, md.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "-p", cfg, "-i", in, "-o", filepath.Join(dir, "out.md"))...)
	c.Env = append(os.Environ(), "PUPPETEER_SKIP_DOWNLOAD=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("mermaid CLI: %v\n%s", err, out)
	}
	// One SVG per chart, each with every node drawn.
	for i, name := range names {
		svg, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out-%d.svg", i+1)))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if bytes.Contains(svg, []byte("Syntax error")) {
			t.Errorf("%s: Mermaid reports a syntax error", name)
		}
		g := buildGraph(fixtures[name]())
		for _, p := range g.projects {
			for _, n := range p.nodes {
				if !bytes.Contains(svg, []byte(n.id)) {
					t.Errorf("%s: node %s not drawn", name, n.id)
				}
			}
		}
	}
}
