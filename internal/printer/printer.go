// Package printer renders command results in the format chosen with
// --format: a human table, JSON or YAML. Every command prints through it, so
// all of them share the same field names and layout.
//
// JSON and YAML come from the same encoding: a value is marshalled with
// encoding/json (its json struct tags name the fields) and the YAML is built
// from that JSON with the key order kept, so the two formats never drift.
//
// The table format is for humans, and the default wherever stdout goes. A value
// renders as a table when it (or each element of a slice) implements Tabler
// (FieldRows makes a FIELD/VALUE table of any value); a value with a free-form
// human form implements TextWriter; any other value is shown as YAML. Colour
// (SetColor) is for terminals only.
//
// gcloud's value(...) and csv(...) projections pick fields of the JSON form
// (projection.go), and a Filter keeps the elements of a list that match a
// gcloud-style --filter expression (filter.go).
package printer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"go.yaml.in/yaml/v3"
)

// The output formats.
const (
	Table = "table"
	JSON  = "json"
	YAML  = "yaml"
)

// Formats lists the simple values of --format (value(...) and csv(...) take fields; see
// projection.go).
var Formats = []string{Table, JSON, YAML}

// Validate reports a usage error (exit code 2) if format is not one of Formats or a valid
// value(...) or csv(...) projection.
func Validate(format string) error {
	for _, f := range Formats {
		if format == f {
			return nil
		}
	}
	if isProjection(format) {
		_, err := parseProjection(format)
		return err
	}
	return exitcode.Usagef("invalid value %q for --format: must be one of %s, or value(FIELD,...) or csv(FIELD,...)", format, strings.Join(Formats, ", "))
}

// Tabler is implemented by values that render as a table. Headers are shown
// upper-cased; a row shorter than the headers is padded with empty cells.
//
// A slice (or array) whose elements implement Tabler renders as one table:
// the headers of its first element (or of the element type's zero value when
// the slice is empty) and the rows of every element, in order.
type Tabler interface {
	Table() (headers []string, rows [][]string)
}

// TextWriter is implemented by values with a free-form human rendering (a
// plan, a version line) used by the table format.
type TextWriter interface {
	WriteText(w io.Writer) error
}

// Printer writes values to a writer in one format.
type Printer struct {
	w      io.Writer
	format string
	proj   *projection
	color  bool
	filter *Filter
}

// New returns a printer that writes to w in format, which must pass Validate.
func New(w io.Writer, format string) (*Printer, error) {
	if err := Validate(format); err != nil {
		return nil, err
	}
	p := &Printer{w: w, format: format}
	if isProjection(format) {
		p.proj, _ = parseProjection(format)
	}
	return p, nil
}

// Format returns the printer's format.
func (p *Printer) Format() string { return p.format }

// Structured reports whether the output is for machines (json, yaml, or a value or csv
// projection), so a command can skip decorations meant for humans.
func (p *Printer) Structured() bool { return p.format != Table }

// SetColor turns colour on or off in the table format (state words, PASS/FAIL/WARN). Only
// for a terminal: see ColorWanted.
func (p *Printer) SetColor(on bool) { p.color = on }

// SetFilter makes Print keep only the elements of a list that match f (nil: all).
func (p *Printer) SetFilter(f *Filter) { p.filter = f }

// Print writes v in the printer's format.
func (p *Printer) Print(v any) error {
	v, err := p.filter.Apply(v)
	if err != nil {
		return err
	}
	switch {
	case p.proj != nil:
		return p.proj.write(p.w, v)
	case p.format == JSON:
		return writeJSON(p.w, v)
	case p.format == YAML:
		return writeYAML(p.w, v)
	}
	return writeHuman(p.w, v, p.color)
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func writeYAML(w io.Writer, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	node, err := JSONToYAMLNode(b)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// JSONToYAMLNode converts one JSON document into a YAML node tree, keeping
// object keys in the order they appear and numbers exactly as written.
func JSONToYAMLNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("printer: trailing data after JSON value")
	}
	return n, nil
}

func decodeNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("printer: unexpected JSON object key %v", kt)
				}
				val, err := decodeNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			if len(n.Content) == 0 {
				n.Style = yaml.FlowStyle // {}
			}
			return n, nil
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				val, err := decodeNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			if len(n.Content) == 0 {
				n.Style = yaml.FlowStyle // []
			}
			return n, nil
		}
		return nil, fmt.Errorf("printer: unexpected JSON delimiter %v", t)
	case string:
		// The !!str tag makes the encoder quote strings that would otherwise
		// read back as another type ("true", "10", "null").
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}, nil
	case json.Number:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: t.String()}, nil
	case bool:
		v := "false"
		if t {
			v = "true"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: v}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("printer: unexpected JSON token %v", tok)
}

var tablerType = reflect.TypeFor[Tabler]()

func writeHuman(w io.Writer, v any, color bool) error {
	switch t := v.(type) {
	case TextWriter:
		if !color {
			return t.WriteText(w)
		}
		var buf bytes.Buffer
		if err := t.WriteText(&buf); err != nil {
			return err
		}
		_, err := io.WriteString(w, colorText(buf.String()))
		return err
	case Tabler:
		headers, rows := t.Table()
		return writeTable(w, headers, rows, color)
	}
	if headers, rows, ok := sliceTable(v); ok {
		return writeTable(w, headers, rows, color)
	}
	return writeYAML(w, v)
}

// sliceTable gathers the rows of a slice or array of Tablers.
func sliceTable(v any) (headers []string, rows [][]string, ok bool) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return nil, nil, false
	}
	et := rv.Type().Elem()
	if !et.Implements(tablerType) {
		return nil, nil, false
	}
	if rv.Len() == 0 {
		// Headers from a zero element; for a pointer type, a pointer to a
		// zero value so that methods do not see nil.
		var zero reflect.Value
		switch {
		case et.Kind() == reflect.Pointer:
			zero = reflect.New(et.Elem())
		case et.Kind() == reflect.Interface:
			return nil, nil, true
		default:
			zero = reflect.Zero(et)
		}
		headers, _ = zero.Interface().(Tabler).Table()
		return headers, nil, true
	}
	for i := range rv.Len() {
		el := rv.Index(i)
		if (el.Kind() == reflect.Pointer || el.Kind() == reflect.Interface) && el.IsNil() {
			continue
		}
		h, r := el.Interface().(Tabler).Table()
		if headers == nil {
			headers = h
		}
		rows = append(rows, r...)
	}
	return headers, rows, true
}

// cellReplacer keeps each cell on one line and in one column.
var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func writeTable(w io.Writer, headers []string, rows [][]string, color bool) error {
	if len(headers) == 0 && len(rows) == 0 {
		return nil
	}
	ncol := len(headers)
	for _, r := range rows {
		ncol = max(ncol, len(r))
	}
	// Every line has every column, so that they all align as one block.
	lines := make([][]string, 0, len(rows)+1)
	cells := func(src []string, upper bool) []string {
		line := make([]string, ncol)
		for i := range line {
			if i < len(src) {
				c := cellReplacer.Replace(src[i])
				if upper {
					c = strings.ToUpper(c)
				}
				line[i] = c
			}
		}
		return line
	}
	if len(headers) > 0 {
		lines = append(lines, cells(headers, true))
	}
	for _, r := range rows {
		lines = append(lines, cells(r, false))
	}
	width := make([]int, ncol)
	for _, l := range lines {
		for i, c := range l {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	// Colour goes to the cells of state and status columns, after the padding is worked
	// out (escape sequences take no room on the screen).
	colored := make([]bool, ncol)
	if color {
		for i, h := range headers {
			colored[i] = colorColumns[strings.ToLower(h)]
		}
	}
	var out bytes.Buffer
	for li, l := range lines {
		var b strings.Builder
		for i, c := range l {
			if i > 0 {
				b.WriteString("   ")
			}
			text := c
			if colored[i] && !(li == 0 && len(headers) > 0) {
				text = colorWord(c)
			}
			b.WriteString(text)
			if i < ncol-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			}
		}
		// Empty trailing cells leave padding behind: drop it.
		out.WriteString(strings.TrimRight(b.String(), " "))
		out.WriteByte('\n')
	}
	_, err := w.Write(out.Bytes())
	return err
}
