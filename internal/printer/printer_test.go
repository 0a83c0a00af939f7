package printer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"go.yaml.in/yaml/v3"
)

type subnet struct {
	Name    string   `json:"name"`
	Range   string   `json:"ipCidrRange"`
	Free    int      `json:"freeIps"`
	Tags    []string `json:"tags"`
	Network *string  `json:"network"`
}

func (s subnet) Table() ([]string, [][]string) {
	return []string{"name", "range", "free ips"}, [][]string{{s.Name, s.Range, fmt.Sprint(s.Free)}}
}

type connector struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

func (c *connector) Table() ([]string, [][]string) {
	return []string{"name", "state"}, [][]string{{c.Name, c.State}}
}

type list struct {
	Items []subnet `json:"items"`
}

func (l list) Table() ([]string, [][]string) {
	var rows [][]string
	for _, s := range l.Items {
		_, r := s.Table()
		rows = append(rows, r...)
	}
	return []string{"name", "range", "free ips"}, rows
}

type rawTable struct {
	headers []string
	rows    [][]string
}

func (r rawTable) Table() ([]string, [][]string) { return r.headers, r.rows }

type text struct{ S string }

func (t text) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "text: %s\n", t.S)
	return err
}

func render(t *testing.T, format string, v any) string {
	t.Helper()
	var buf bytes.Buffer
	p, err := New(&buf, format)
	if err != nil {
		t.Fatalf("New(%q): %v", format, err)
	}
	if err := p.Print(v); err != nil {
		t.Fatalf("Print: %v", err)
	}
	return buf.String()
}

func TestValidate(t *testing.T) {
	for _, f := range []string{"table", "json", "yaml"} {
		if err := Validate(f); err != nil {
			t.Errorf("Validate(%q) = %v", f, err)
		}
	}
	for _, f := range []string{"", "JSON", "text", "yml", "csv"} {
		err := Validate(f)
		if err == nil {
			t.Errorf("Validate(%q) = nil, want error", f)
			continue
		}
		if exitcode.FromError(err) != exitcode.Usage {
			t.Errorf("Validate(%q) exit code = %d, want %d", f, exitcode.FromError(err), exitcode.Usage)
		}
		msg := err.Error()
		for _, want := range []string{"--format", "table", "json", "yaml", fmt.Sprintf("%q", f)} {
			if !strings.Contains(msg, want) {
				t.Errorf("Validate(%q) = %q, want it to mention %s", f, msg, want)
			}
		}
	}
	if _, err := New(io.Discard, "xml"); exitcode.FromError(err) != exitcode.Usage {
		t.Errorf("New with bad format: err = %v", err)
	}
}

func TestPrinterAccessors(t *testing.T) {
	for _, tt := range []struct {
		format     string
		structured bool
	}{{Table, false}, {JSON, true}, {YAML, true}} {
		p, err := New(io.Discard, tt.format)
		if err != nil {
			t.Fatal(err)
		}
		if p.Format() != tt.format || p.Structured() != tt.structured {
			t.Errorf("%s: Format()=%q Structured()=%v", tt.format, p.Format(), p.Structured())
		}
	}
}

func TestJSON(t *testing.T) {
	net := "default"
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"struct", subnet{Name: "run", Range: "10.0.0.0/26", Free: 48, Tags: []string{"a"}, Network: &net}, `{
  "name": "run",
  "ipCidrRange": "10.0.0.0/26",
  "freeIps": 48,
  "tags": [
    "a"
  ],
  "network": "default"
}
`},
		{"nil fields", subnet{}, `{
  "name": "",
  "ipCidrRange": "",
  "freeIps": 0,
  "tags": null,
  "network": null
}
`},
		{"no html escaping", map[string]string{"k": "<a & b>"}, "{\n  \"k\": \"<a & b>\"\n}\n"},
		{"empty slice", []subnet{}, "[]\n"},
		{"scalar", 3, "3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, JSON, tt.v); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestYAML(t *testing.T) {
	net := "default"
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"struct keeps json names and order", subnet{Name: "run", Range: "10.0.0.0/26", Free: 48, Tags: []string{"a", "b"}, Network: &net}, `name: run
ipCidrRange: 10.0.0.0/26
freeIps: 48
tags:
  - a
  - b
network: default
`},
		{"null and empty", subnet{Tags: []string{}}, `name: ""
ipCidrRange: ""
freeIps: 0
tags: []
network: null
`},
		{"strings that look like other types are quoted", map[string]any{"a": "true", "b": "10", "c": "null", "d": "1.5", "e": "", "f": "x: y"}, `a: "true"
b: "10"
c: "null"
d: "1.5"
e: ""
f: 'x: y'
`},
		{"numbers exact", map[string]any{"big": int64(9007199254740993), "f": 0.25, "neg": -3, "bool": false}, `big: 9007199254740993
bool: false
f: 0.25
neg: -3
`},
		{"nested", list{Items: []subnet{{Name: "a", Tags: nil}}}, `items:
  - name: a
    ipCidrRange: ""
    freeIps: 0
    tags: null
    network: null
`},
		{"empty object", struct {
			M map[string]int `json:"m"`
		}{M: map[string]int{}}, "m: {}\n"},
		{"multi-line string", map[string]string{"msg": "line one\nline two"}, "msg: |-\n  line one\n  line two\n"},
		{"top-level list", []string{"x", "y"}, "- x\n- y\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, YAML, tt.v); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestYAMLMatchesJSON checks that YAML output reads back as the same data as
// the JSON output.
func TestYAMLMatchesJSON(t *testing.T) {
	net := "n"
	values := []any{
		subnet{Name: "a", Range: "10.0.0.0/28", Free: 12, Tags: []string{"yes", "no", "~"}, Network: &net},
		[]any{1, "2", 3.5, nil, true, map[string]any{"nested": []any{}}},
		map[string]any{"unicode": "héllo ✓", "quote": `"q"`, "colon": "a: b", "hash": "# c", "dash": "- x", "space": " lead"},
		"just a string",
		nil,
	}
	for i, v := range values {
		var fromJSON, fromYAML any
		if err := json.Unmarshal([]byte(render(t, JSON, v)), &fromJSON); err != nil {
			t.Fatal(err)
		}
		y := render(t, YAML, v)
		if err := yaml.Unmarshal([]byte(y), &fromYAML); err != nil {
			t.Fatalf("value %d: yaml.Unmarshal: %v\n%s", i, err, y)
		}
		if !reflect.DeepEqual(normalize(fromJSON), normalize(fromYAML)) {
			t.Errorf("value %d: JSON and YAML differ:\njson: %#v\nyaml: %#v", i, fromJSON, fromYAML)
		}
	}
}

// normalize makes numbers comparable across the two decoders.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range t {
			m[k] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = normalize(e)
		}
		return s
	case int:
		return float64(t)
	}
	return v
}

func TestJSONToYAMLNodeErrors(t *testing.T) {
	for _, in := range []string{"", "{", `{"a":}`, "[1,", "1 2"} {
		if _, err := JSONToYAMLNode([]byte(in)); err == nil {
			t.Errorf("JSONToYAMLNode(%q) = nil error", in)
		}
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"single tabler", subnet{Name: "run-subnet", Range: "10.0.0.0/26", Free: 48}, `NAME         RANGE         FREE IPS
run-subnet   10.0.0.0/26   48
`},
		{"tabler with rows", list{Items: []subnet{{Name: "a", Range: "10.0.0.0/26", Free: 1}, {Name: "longer-name", Range: "10.0.1.0/28", Free: 100}}}, `NAME          RANGE         FREE IPS
a             10.0.0.0/26   1
longer-name   10.0.1.0/28   100
`},
		{"slice of tablers", []subnet{{Name: "a", Range: "r1"}, {Name: "bb", Range: "r2"}}, `NAME   RANGE   FREE IPS
a      r1      0
bb     r2      0
`},
		{"slice of pointer tablers skips nil", []*connector{{Name: "c1", State: "READY"}, nil, {Name: "c2", State: "ERROR"}}, `NAME   STATE
c1     READY
c2     ERROR
`},
		{"empty slice prints headers", []subnet{}, "NAME   RANGE   FREE IPS\n"},
		{"empty pointer slice prints headers", []*connector{}, "NAME   STATE\n"},
		{"array", [1]subnet{{Name: "x", Range: "y", Free: 2}}, "NAME   RANGE   FREE IPS\nx      y       2\n"},
		{"nothing", rawTable{}, ""},
		{"short rows padded, no trailing spaces", rawTable{[]string{"a", "b", "c"}, [][]string{{"1"}, {"22", "", "3"}, {"4", "5"}}}, `A    B   C
1
22       3
4    5
`},
		{"cells stay on one line", rawTable{[]string{"k", "v"}, [][]string{{"a\tb", "c\nd"}}}, "K     V\na b   c d\n"},
		{"rows without headers", rawTable{nil, [][]string{{"a", "b"}}}, "a   b\n"},
		{"text writer", text{"hi"}, "text: hi\n"},
		{"fallback to yaml", map[string]int{"b": 2, "a": 1}, "a: 1\nb: 2\n"},
		{"fallback for plain slice", []string{"x"}, "- x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, Table, tt.v); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, fmt.Errorf("nope") }

func TestMarshalErrors(t *testing.T) {
	for _, f := range Formats {
		p, _ := New(io.Discard, f)
		if err := p.Print(failing{}); err == nil {
			t.Errorf("%s: Print(failing) = nil error", f)
		}
	}
}
