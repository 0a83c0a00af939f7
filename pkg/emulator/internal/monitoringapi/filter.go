package monitoringapi

import (
	"fmt"
	"strings"
)

// The filter subset (Monitoring docs, "Monitoring filters"): terms joined by AND, each one of
//
//	metric.type = "T"
//	resource.type = "T"
//	metric.labels.K = "V"      (or metric.label.K)
//	resource.labels.K = "V"    (or resource.label.K)
//
// with = or !=, the value a double-quoted string or one_of("A", "B", ...). metric.type is
// required and must be a single type, as ListTimeSeries requires. Other forms (OR, NOT,
// starts_with, has_substring, :, parentheses, metadata labels) are refused with
// INVALID_ARGUMENT naming the term.

type term struct {
	field  string // "metric.type", "resource.type", "metric.labels.K" or "resource.labels.K"
	negate bool
	values []string
}

type filter struct {
	metricType string
	terms      []term
}

func (f *filter) matches(metricType, resourceType string, metricLabels, resourceLabels map[string]string) bool {
	if metricType != f.metricType {
		return false
	}
	for _, t := range f.terms {
		var v string
		var ok bool
		switch {
		case t.field == "metric.type":
			v, ok = metricType, true
		case t.field == "resource.type":
			v, ok = resourceType, true
		case strings.HasPrefix(t.field, "metric.labels."):
			v, ok = metricLabels[strings.TrimPrefix(t.field, "metric.labels.")]
		case strings.HasPrefix(t.field, "resource.labels."):
			v, ok = resourceLabels[strings.TrimPrefix(t.field, "resource.labels.")]
		}
		in := ok && contains(t.values, v)
		if in == t.negate {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// splitAND splits a filter on AND outside quotes.
func splitAND(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (strings.HasPrefix(s[i:], " AND ") || strings.HasPrefix(s[i:], "\tAND ")):
			out = append(out, cur.String())
			cur.Reset()
			i += len(" AND ") - 1
			continue
		}
		cur.WriteByte(c)
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated string in filter %q", s)
	}
	return append(out, cur.String()), nil
}

func parseFilter(s string) (*filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("a filter naming one metric.type is required")
	}
	parts, err := splitAND(s)
	if err != nil {
		return nil, err
	}
	f := &filter{}
	for _, raw := range parts {
		p := strings.TrimSpace(raw)
		t, err := parseTerm(p)
		if err != nil {
			return nil, err
		}
		if t.field == "metric.type" {
			if t.negate || len(t.values) != 1 || f.metricType != "" {
				return nil, fmt.Errorf("the filter must name exactly one metric type with metric.type = \"TYPE\"; got %q", p)
			}
			f.metricType = t.values[0]
			continue
		}
		f.terms = append(f.terms, t)
	}
	if f.metricType == "" {
		return nil, fmt.Errorf("the filter must name one metric type with metric.type = \"TYPE\"")
	}
	return f, nil
}

func parseTerm(p string) (term, error) {
	bads := []string{" OR ", "NOT ", "(", ":"}
	if strings.Contains(p, "one_of(") {
		bads = bads[:2]
	}
	for _, bad := range bads {
		if i := strings.Index(p, bad); i >= 0 && !inQuotes(p, i) {
			return term{}, fmt.Errorf("unsupported filter term %q: this emulator supports = and != comparisons and one_of(...) joined by AND", p)
		}
	}
	op, negate := "=", false
	i := strings.Index(p, "!=")
	if i >= 0 && !inQuotes(p, i) {
		op, negate = "!=", true
	} else {
		i = strings.Index(p, "=")
		if i < 0 || inQuotes(p, i) {
			return term{}, fmt.Errorf("unsupported filter term %q: want FIELD = \"VALUE\"", p)
		}
	}
	field := strings.TrimSpace(p[:i])
	rhs := strings.TrimSpace(p[i+len(op):])
	switch {
	case field == "metric.type" || field == "resource.type":
	case strings.HasPrefix(field, "metric.label."):
		field = "metric.labels." + strings.TrimPrefix(field, "metric.label.")
	case strings.HasPrefix(field, "resource.label."):
		field = "resource.labels." + strings.TrimPrefix(field, "resource.label.")
	case strings.HasPrefix(field, "metric.labels."), strings.HasPrefix(field, "resource.labels."):
	default:
		return term{}, fmt.Errorf("unsupported filter field %q in %q: want metric.type, resource.type, metric.labels.KEY or resource.labels.KEY", field, p)
	}
	if rest, ok := strings.CutPrefix(rhs, "one_of("); ok {
		body, ok := strings.CutSuffix(rest, ")")
		if !ok {
			return term{}, fmt.Errorf("unterminated one_of in %q", p)
		}
		var vals []string
		for _, v := range strings.Split(body, ",") {
			s, err := unquote(strings.TrimSpace(v))
			if err != nil {
				return term{}, fmt.Errorf("filter term %q: %w", p, err)
			}
			vals = append(vals, s)
		}
		return term{field: field, negate: negate, values: vals}, nil
	}
	v, err := unquote(rhs)
	if err != nil {
		return term{}, fmt.Errorf("filter term %q: %w", p, err)
	}
	return term{field: field, negate: negate, values: []string{v}}, nil
}

func inQuotes(s string, at int) bool {
	in := false
	for i := 0; i < at; i++ {
		if s[i] == '\\' && in {
			i++
			continue
		}
		if s[i] == '"' {
			in = !in
		}
	}
	return in
}

func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", fmt.Errorf("value %s must be a double-quoted string", s)
	}
	return strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`), nil
}
