package egressmap

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/egressmap -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (go test ./internal/egressmap -update rewrites it); got:\n%s", path, got)
	}
}

var fixtures = map[string]func() Map{"fleet": fleetMap, "tricky": trickyMap}

func render(t *testing.T, fn func(*bytes.Buffer, Map) error, m Map) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := fn(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mermaid(b *bytes.Buffer, m Map) error { return WriteMermaid(b, m) }
func dot(b *bytes.Buffer, m Map) error     { return WriteDOT(b, m) }
func html(b *bytes.Buffer, m Map) error    { return WriteHTML(b, m) }

func TestGolden(t *testing.T) {
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			golden(t, name+".mmd.golden", render(t, mermaid, fx()))
			golden(t, name+".dot.golden", render(t, dot, fx()))
		})
	}
}

// The renderings do not depend on the order the map lists things in.
func TestDeterministic(t *testing.T) {
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			m := fx()
			rev := m
			rev.Projects = nil
			for i := len(m.Projects) - 1; i >= 0; i-- {
				p := m.Projects[i]
				p.Workloads = reversed(p.Workloads)
				p.Connectors = reversed(p.Connectors)
				p.Subnets = reversed(p.Subnets)
				rev.Projects = append(rev.Projects, p)
			}
			for _, fn := range []func(*bytes.Buffer, Map) error{mermaid, dot, html} {
				a, b := render(t, fn, m), render(t, fn, rev)
				if !bytes.Equal(a, b) {
					t.Errorf("rendering changed with the input order:\n%s\n---\n%s", a, b)
				}
				if c := render(t, fn, m); !bytes.Equal(a, c) {
					t.Error("two renderings of the same map differ")
				}
			}
		})
	}
}

func reversed[T any](s []T) []T {
	out := make([]T, 0, len(s))
	for i := len(s) - 1; i >= 0; i-- {
		out = append(out, s[i])
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Map)
		want string
	}{
		{"duplicate key", func(m *Map) { m.Projects[0].Workloads[1].Key = m.Projects[0].Workloads[0].Key }, "has the key of a workload"},
		{"no key", func(m *Map) { m.Projects[0].Subnets[0].Key = "" }, "a subnet has no key"},
		{"dangling via", func(m *Map) { m.Projects[0].Workloads[0].Via = "nowhere" }, `uses "nowhere"`},
		{"via a workload", func(m *Map) { m.Projects[0].Workloads[0].Via = "w2" }, `uses "w2"`},
		{"dangling target", func(m *Map) { m.Projects[0].Connectors[0].Target = "nowhere" }, `targets "nowhere"`},
		{"command of nothing", func(m *Map) { m.Commands[0].Workloads = []string{"nowhere"} }, `moves "nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := trickyMap()
			tt.edit(&m)
			for _, fn := range []func(*bytes.Buffer, Map) error{mermaid, dot, html} {
				var b bytes.Buffer
				err := fn(&b, m)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v, want one containing %q", err, tt.want)
				}
				if b.Len() != 0 {
					t.Error("an invalid map still wrote output")
				}
			}
		})
	}
	if err := fleetMap().Validate(); err != nil {
		t.Errorf("fleet fixture: %v", err)
	}
}

func TestNodeIDs(t *testing.T) {
	g := buildGraph(trickyMap())
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	for _, p := range g.projects {
		for _, n := range append([]*gnode{{id: p.id}}, p.nodes...) {
			if !idRE.MatchString(n.id) {
				t.Errorf("id %q is not [A-Za-z][A-Za-z0-9_]*", n.id)
			}
			if seen[n.id] {
				t.Errorf("id %q is used twice", n.id)
			}
			seen[n.id] = true
		}
	}
	// a-b and a_b sanitize alike: the second gets a suffix, in sorted order.
	if !seen["w_p_1_r_a_b"] || !seen["w_p_1_r_a_b_2"] {
		t.Errorf("ids of a-b and a_b: %v", seen)
	}
}

func TestDOTEscaping(t *testing.T) {
	tests := map[string]string{
		`plain`:      `"plain"`,
		`a "q" b`:    `"a \"q\" b"`,
		`back\slash`: `"back\\slash"`,
		"two\nlines": `"two\nlines"`,
		`\n literal`: `"\\n literal"`,
		"tab\there":  `"tab here"`,
		"東京 café":    `"東京 café"`,
	}
	for in, want := range tests {
		if got := dotString(in); got != want {
			t.Errorf("dotString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMermaidEscaping(t *testing.T) {
	tests := map[string]string{
		`plain [x] (y) {z}`: `plain [x] (y) {z}`,
		`say "hi"`:          `say #quot;hi#quot;`,
		`a|b`:               `a#124;b`,
		`<b>&</b>`:          `#lt;b#gt;#amp;#lt;/b#gt;`,
		`#35; and #`:        `#35;35; and #35;`,
		"two\nlines":        `two lines`,
		"`md`":              `#96;md#96;`,
		"東京":                `東京`,
	}
	for in, want := range tests {
		if got := mermaidText(in); got != want {
			t.Errorf("mermaidText(%q) = %s, want %s", in, got, want)
		}
	}
}
