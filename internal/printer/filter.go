package printer

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// Filters: a subset of gcloud's --filter, evaluated on the JSON form of each resource of a
// list (the names --format json prints):
//
//	field=value     equal (value* : starts with value)
//	field!=value    not equal
//	field:value     has: contains value, ignoring case; for a list, any element does
//	field:*         the field is set (not empty)
//	field~regex     matches the regular expression (RE2); field!~regex does not
//	NOT t, -t       negation;  t1 AND t2, t1 t2;  t1 OR t2;  ( ... )
//
// Values may be quoted ("a b" or 'a b'). Fields are dotted paths (vpc.network); through a
// list a term holds when it holds for any element. AND binds tighter than OR.

// FilterHelp describes --filter for command help.
const FilterHelp = `select the resources to list, as gcloud's --filter: field=value, field!=value,
field:value (contains, ignoring case; any element of a list), field:* (set), field~regex,
NOT, AND, OR, parentheses; fields as in --format json (dotted paths: vpc.network)`

// Filter is a parsed --filter expression.
type Filter struct {
	expr string
	root node
}

// String returns the expression as given.
func (f *Filter) String() string { return f.expr }

type node interface {
	eval(r any) bool
}

type andNode struct{ a, b node }
type orNode struct{ a, b node }
type notNode struct{ n node }
type termNode struct {
	path  []string
	op    string
	value string
	re    *regexp.Regexp
}

func (n andNode) eval(r any) bool { return n.a.eval(r) && n.b.eval(r) }
func (n orNode) eval(r any) bool  { return n.a.eval(r) || n.b.eval(r) }
func (n notNode) eval(r any) bool { return !n.n.eval(r) }

func (t termNode) eval(r any) bool {
	v := lookup(r, t.path)
	switch t.op {
	case "!=":
		return !anyValue(v, t.match("="))
	case "!~":
		return !anyValue(v, t.match("~"))
	case ":":
		if t.value == "*" {
			return renderValue(v) != ""
		}
	}
	return anyValue(v, t.match(t.op))
}

// anyValue reports whether ok holds for v or, for a list, any of its elements.
func anyValue(v any, ok func(string) bool) bool {
	if l, isList := v.([]any); isList {
		for _, e := range l {
			if anyValue(e, ok) {
				return true
			}
		}
		return false
	}
	return ok(renderValue(v))
}

func (t termNode) match(op string) func(string) bool {
	switch op {
	case "=":
		if p, ok := strings.CutSuffix(t.value, "*"); ok {
			return func(s string) bool { return strings.HasPrefix(s, p) }
		}
		return func(s string) bool { return s == t.value || strings.EqualFold(s, t.value) && isBoolWord(s) }
	case "~":
		return t.re.MatchString
	}
	lv := strings.ToLower(t.value)
	return func(s string) bool { return strings.Contains(strings.ToLower(s), lv) }
}

// isBoolWord is true for True/False, so that running=true matches as gcloud's does.
func isBoolWord(s string) bool { return strings.EqualFold(s, "true") || strings.EqualFold(s, "false") }

// ParseFilter parses a --filter expression; an error is a usage error naming --filter.
func ParseFilter(expr string) (*Filter, error) {
	toks, err := lexFilter(expr)
	if err != nil {
		return nil, exitcode.Usagef("--filter %q: %v", expr, err)
	}
	if len(toks) == 0 {
		return nil, exitcode.Usagef("--filter is empty")
	}
	p := &filterParser{toks: toks}
	n, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.i].text)
	}
	if err != nil {
		return nil, exitcode.Usagef("--filter %q: %v", expr, err)
	}
	return &Filter{expr: expr, root: n}, nil
}

type filterTok struct {
	text   string
	quoted bool
}

// lexFilter splits an expression into words, quoted strings, parentheses and operators.
func lexFilter(s string) ([]filterTok, error) {
	var out []filterTok
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			out = append(out, filterTok{text: string(c)})
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unclosed quote %c", c)
			}
			out = append(out, filterTok{text: s[i+1 : i+1+end], quoted: true})
			i += end + 2
		case strings.HasPrefix(s[i:], "!=") || strings.HasPrefix(s[i:], "!~"):
			out = append(out, filterTok{text: s[i : i+2]})
			i += 2
		case c == '=' || c == ':' || c == '~':
			out = append(out, filterTok{text: string(c)})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()\"'=:~", rune(s[j])) && !strings.HasPrefix(s[j:], "!=") && !strings.HasPrefix(s[j:], "!~") {
				j++
			}
			out = append(out, filterTok{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

type filterParser struct {
	toks []filterTok
	i    int
}

func (p *filterParser) peek() (filterTok, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return filterTok{}, false
}

func (p *filterParser) keyword(word string) bool {
	t, ok := p.peek()
	if ok && !t.quoted && t.text == word {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) or() (node, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		m, err := p.and()
		if err != nil {
			return nil, err
		}
		n = orNode{n, m}
	}
	return n, nil
}

func (p *filterParser) and() (node, error) {
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		p.keyword("AND")
		t, ok := p.peek()
		if !ok || (!t.quoted && (t.text == ")" || t.text == "OR")) {
			return n, nil
		}
		m, err := p.unary()
		if err != nil {
			return nil, err
		}
		n = andNode{n, m}
	}
}

func (p *filterParser) unary() (node, error) {
	if p.keyword("NOT") {
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("a term is missing at the end")
	}
	if !t.quoted && t.text == "(" {
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.keyword(")") {
			return nil, fmt.Errorf("missing )")
		}
		return n, nil
	}
	if !t.quoted && strings.HasPrefix(t.text, "-") && len(t.text) > 1 {
		// -field:value is gcloud's short NOT.
		p.toks[p.i].text = t.text[1:]
		n, err := p.term()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.term()
}

func (p *filterParser) term() (node, error) {
	key, _ := p.peek()
	if key.quoted || strings.ContainsAny(key.text, "()") || key.text == "" {
		return nil, fmt.Errorf("want a field name, got %q", key.text)
	}
	p.i++
	op, ok := p.peek()
	if !ok || op.quoted || !isFilterOp(op.text) {
		return nil, fmt.Errorf("%q needs an operator and a value (=, !=, :, ~, !~), e.g. mode=direct", key.text)
	}
	p.i++
	val, ok := p.peek()
	if !ok || (!val.quoted && (val.text == "(" || val.text == ")" || isFilterOp(val.text))) {
		return nil, fmt.Errorf("%s%s needs a value", key.text, op.text)
	}
	p.i++
	t := termNode{path: strings.Split(key.text, "."), op: op.text, value: val.text}
	for _, part := range t.path {
		if part == "" {
			return nil, fmt.Errorf("field %q has an empty part", key.text)
		}
	}
	if t.op == "~" || t.op == "!~" {
		re, err := regexp.Compile(t.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", key.text, err)
		}
		t.re = re
	}
	return t, nil
}

func isFilterOp(s string) bool {
	switch s {
	case "=", "!=", ":", "~", "!~":
		return true
	}
	return false
}

// Apply returns the elements of the slice v whose JSON form matches f, as a slice of the same
// type; a value that is not a slice is returned as it is. A nil f returns v.
func (f *Filter) Apply(v any) (any, error) {
	if f == nil {
		return v, nil
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Slice {
		return v, nil
	}
	out := reflect.MakeSlice(rv.Type(), 0, rv.Len())
	for i := range rv.Len() {
		el := rv.Index(i)
		b, err := json.Marshal(el.Interface())
		if err != nil {
			return nil, err
		}
		rs, err := resources(json.RawMessage(b))
		if err != nil {
			return nil, err
		}
		if len(rs) == 1 && f.root.eval(rs[0]) {
			out = reflect.Append(out, el)
		}
	}
	return out.Interface(), nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
