package restgw

import (
	"fmt"
	"net/url"
	"strings"
)

// A template is a parsed google.api.http path template (google/api/http.proto):
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	Verb     = ":" LITERAL ;
//
// A variable without "=Segments" stands for "*". "**" matches zero or more segments and may
// only be the last segment.
type template struct {
	raw  string
	segs []segment
	vars []variable
	verb string
}

type segKind int

const (
	segLiteral segKind = iota
	segStar            // one segment
	segStars           // zero or more segments
)

type segment struct {
	kind segKind
	lit  string
}

// variable binds the path segments [start, end) to a field path ("service.name").
type variable struct {
	field      string
	start, end int
}

func parseTemplate(s string) (*template, error) {
	t := &template{raw: s}
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("path template %q: must start with /", s)
	}
	rest := s[1:]
	// The verb follows a ':' in the last segment, outside braces.
	depth := 0
scan:
	for i := len(rest) - 1; i >= 0; i-- {
		switch rest[i] {
		case '}':
			depth++
		case '{':
			depth--
		case '/':
			break scan
		case ':':
			if depth == 0 {
				t.verb, rest = rest[i+1:], rest[:i]
				break scan
			}
		}
	}
	for rest != "" {
		var part string
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("path template %q: unclosed variable", s)
			}
			part, rest = rest[1:end], rest[end+1:]
			field, pattern, ok := strings.Cut(part, "=")
			if !ok {
				pattern = "*"
			}
			if field == "" {
				return nil, fmt.Errorf("path template %q: variable without a field", s)
			}
			v := variable{field: field, start: len(t.segs)}
			for _, p := range strings.Split(pattern, "/") {
				seg, err := parseSegment(s, p)
				if err != nil {
					return nil, err
				}
				t.segs = append(t.segs, seg)
			}
			v.end = len(t.segs)
			t.vars = append(t.vars, v)
		} else {
			end := strings.IndexByte(rest, '/')
			if end < 0 {
				end = len(rest)
			}
			part, rest = rest[:end], rest[end:]
			seg, err := parseSegment(s, part)
			if err != nil {
				return nil, err
			}
			t.segs = append(t.segs, seg)
		}
		switch {
		case rest == "":
		case rest[0] == '/':
			rest = rest[1:]
			if rest == "" {
				return nil, fmt.Errorf("path template %q: trailing /", s)
			}
		default:
			return nil, fmt.Errorf("path template %q: unexpected %q", s, rest)
		}
	}
	for i, seg := range t.segs {
		if seg.kind == segStars && i != len(t.segs)-1 {
			return nil, fmt.Errorf("path template %q: ** must be the last segment", s)
		}
	}
	return t, nil
}

func parseSegment(tmpl, p string) (segment, error) {
	switch {
	case p == "*":
		return segment{kind: segStar}, nil
	case p == "**":
		return segment{kind: segStars}, nil
	case p == "" || strings.ContainsAny(p, "{}*=:"):
		return segment{}, fmt.Errorf("path template %q: bad segment %q", tmpl, p)
	}
	return segment{kind: segLiteral, lit: p}, nil
}

// splitPath splits an escaped URL path into its segments and the custom verb: the text after
// the last ':' of the last segment, if any. Resource ids of the served APIs never contain ':'.
func splitPath(escaped string) (segs []string, verb string, ok bool) {
	p, ok := strings.CutPrefix(escaped, "/")
	if !ok || p == "" {
		return nil, "", false
	}
	segs = strings.Split(p, "/")
	last := segs[len(segs)-1]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		segs[len(segs)-1], verb = last[:i], last[i+1:]
	}
	return segs, verb, true
}

// match matches escaped path segments and a verb against t, returning the value of each
// variable (unescaped) by field path.
func (t *template) match(segs []string, verb string) (map[string]string, bool) {
	if verb != t.verb {
		return nil, false
	}
	ends := make([]int, len(t.segs)) // path index after each template segment
	i := 0
	for j, seg := range t.segs {
		switch seg.kind {
		case segStars:
			for k := i; k < len(segs); k++ {
				if segs[k] == "" {
					return nil, false
				}
			}
			i = len(segs)
		case segStar:
			if i >= len(segs) || segs[i] == "" {
				return nil, false
			}
			i++
		case segLiteral:
			if i >= len(segs) {
				return nil, false
			}
			if u, err := url.PathUnescape(segs[i]); err != nil || u != seg.lit {
				return nil, false
			}
			i++
		}
		ends[j] = i
	}
	if i != len(segs) {
		return nil, false
	}
	vals := make(map[string]string, len(t.vars))
	for _, v := range t.vars {
		from := 0
		if v.start > 0 {
			from = ends[v.start-1]
		}
		parts := segs[from:ends[v.end-1]]
		un := make([]string, len(parts))
		for k, p := range parts {
			u, err := url.PathUnescape(p)
			if err != nil {
				return nil, false
			}
			un[k] = u
		}
		vals[v.field] = strings.Join(un, "/")
	}
	return vals, true
}
