package printer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// Projections: gcloud's value(...) and csv(...) formats, for shell habits that carry over.
//
//	value(name,vpc.network)           tab-separated, no header
//	csv(name,mode)                    a header row, then one row per resource
//	csv[no-heading](name,mode)        no header row
//	csv[separator=";"](name)          another separator (value takes it too)
//	value(connector.basename())       the last segment of a path
//	csv(name:label=NAME)              a header cell of your own
//
// A field is a dotted path into the JSON form of the output (the same names --format json
// prints). The output's resources are the elements of a list, or the one object printed.
// Following gcloud: a missing field or null is empty; a list is joined with ';'; an object
// becomes key=value pairs joined with ';'; true and false print as True and False.

// The projection formats' names.
const (
	Value = "value"
	CSV   = "csv"
)

// projection is a parsed value(...) or csv(...) format.
type projection struct {
	kind      string // Value or CSV
	noHeading bool
	separator string
	fields    []projField
}

type projField struct {
	path     []string
	basename bool
	label    string
}

// isProjection reports whether format is a value(...) or csv(...) projection (valid or
// not).
func isProjection(format string) bool {
	for _, k := range []string{Value, CSV} {
		if strings.HasPrefix(format, k+"(") || strings.HasPrefix(format, k+"[") {
			return true
		}
	}
	return false
}

// parseProjection parses a value(...) or csv(...) format; errors are usage errors naming
// --format.
func parseProjection(format string) (*projection, error) {
	bad := func(why string, args ...any) error {
		return exitcode.Usagef("invalid value %q for --format: %s", format, fmt.Sprintf(why, args...))
	}
	p := &projection{}
	rest := format
	switch {
	case strings.HasPrefix(rest, Value):
		p.kind, rest = Value, rest[len(Value):]
		p.separator = "\t"
	case strings.HasPrefix(rest, CSV):
		p.kind, rest = CSV, rest[len(CSV):]
		p.separator = ","
	default:
		return nil, bad("not a projection")
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return nil, bad("unclosed [")
		}
		for _, attr := range splitTop(rest[1:end], ',') {
			attr = strings.TrimSpace(attr)
			k, v, hasValue := strings.Cut(attr, "=")
			switch {
			case attr == "":
			case k == "no-heading" && !hasValue:
				p.noHeading = true
			case k == "separator" && hasValue:
				p.separator = unquote(v)
			default:
				return nil, bad("unknown attribute %q; runnet knows no-heading and separator=S", attr)
			}
		}
		rest = rest[end+1:]
	}
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return nil, bad("want %s(FIELD,...), e.g. %s(name,mode)", p.kind, p.kind)
	}
	body := rest[1 : len(rest)-1]
	for _, f := range splitTop(body, ',') {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, bad("empty field")
		}
		var pf projField
		if name, opts, ok := strings.Cut(f, ":"); ok {
			f = strings.TrimSpace(name)
			for _, o := range strings.Split(opts, ":") {
				k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
				if k != "label" {
					return nil, bad("unknown field attribute %q; runnet knows label=NAME", o)
				}
				pf.label = unquote(v)
			}
		}
		if strings.HasSuffix(f, ".basename()") {
			pf.basename = true
			f = strings.TrimSuffix(f, ".basename()")
		}
		if strings.ContainsAny(f, "()[] ") {
			return nil, bad("field %q: runnet knows dotted field paths and .basename()", f)
		}
		pf.path = strings.Split(f, ".")
		for _, part := range pf.path {
			if part == "" {
				return nil, bad("field %q has an empty part", f)
			}
		}
		if pf.label == "" {
			pf.label = f
		}
		p.fields = append(p.fields, pf)
	}
	if len(p.fields) == 0 {
		return nil, bad("no fields: want %s(FIELD,...)", p.kind)
	}
	return p, nil
}

// splitTop splits s on sep outside parentheses and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// resources decodes v's JSON form and returns its resources: a list's elements, or v.
func resources(v any) ([]any, error) {
	b, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if l, ok := doc.([]any); ok {
		return l, nil
	}
	if doc == nil {
		return nil, nil
	}
	return []any{doc}, nil
}

func (p *projection) write(w io.Writer, v any) error {
	rs, err := resources(v)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if p.kind == CSV {
		cw := csv.NewWriter(&buf)
		if len(p.separator) == 1 {
			cw.Comma = rune(p.separator[0])
		}
		if !p.noHeading {
			var h []string
			for _, f := range p.fields {
				h = append(h, f.label)
			}
			if err := cw.Write(h); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if err := cw.Write(p.row(r)); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	} else {
		for _, r := range rs {
			buf.WriteString(strings.Join(p.row(r), p.separator))
			buf.WriteByte('\n')
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func (p *projection) row(r any) []string {
	out := make([]string, len(p.fields))
	for i, f := range p.fields {
		v := lookup(r, f.path)
		s := renderValue(v)
		if f.basename && s != "" {
			s = path.Base(s)
		}
		out[i] = s
	}
	return out
}

// lookup follows path into a decoded JSON value. Through a list it maps over the elements
// (their values come back as a list).
func lookup(v any, p []string) any {
	if len(p) == 0 {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		return lookup(t[p[0]], p[1:])
	case []any:
		var out []any
		for _, e := range t {
			if x := lookup(e, p); x != nil {
				out = append(out, x)
			}
		}
		return out
	}
	return nil
}

// renderValue renders a decoded JSON value as gcloud's value and csv formats do.
func renderValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "True"
		}
		return "False"
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			parts = append(parts, renderValue(e))
		}
		return strings.Join(parts, ";")
	case map[string]any:
		keys := sortedKeys(t)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+renderValue(t[k]))
		}
		return strings.Join(parts, ";")
	}
	return fmt.Sprint(v)
}
