package computeapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listItem is one resource of a listing: its JSON form, the same as a generic map for
// filtering, and the keys it sorts by.
type listItem struct {
	raw     json.RawMessage
	fields  map[string]any
	name    string
	created string
}

func toItem(v any, name, created string) listItem {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("computeapi: marshal %T: %v", v, err))
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(fmt.Sprintf("computeapi: unmarshal %T: %v", v, err))
	}
	return listItem{raw: raw, fields: m, name: name, created: created}
}

// listParams are the query parameters every Compute list method takes.
type listParams struct {
	filter           []cond
	max              int
	offset           int
	orderBy          string
	includeAllScopes bool
}

func parseListParams(r *http.Request) (listParams, *apiError) {
	q := r.URL.Query()
	lp := listParams{max: maxResultsLimit}
	var aerr *apiError
	if lp.filter, aerr = parseFilter(q.Get("filter")); aerr != nil {
		return lp, aerr
	}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0:
			return lp, errInvalid(fmt.Sprintf("Invalid value for field 'maxResults': '%s'. Must be a non-negative integer.", v))
		case n > maxResultsLimit:
			return lp, errInvalid(fmt.Sprintf("Invalid value for field 'maxResults': '%s'. Must be less than or equal to %d", v, maxResultsLimit))
		case n > 0:
			lp.max = n
		}
	}
	if v := q.Get("pageToken"); v != "" {
		n, ok := decodePageToken(v)
		if !ok {
			return lp, errInvalid(fmt.Sprintf("Invalid value for field 'pageToken': '%s'. Invalid page token.", v))
		}
		lp.offset = n
	}
	switch v := strings.Join(strings.Fields(q.Get("orderBy")), " "); v {
	case "", "name", "name asc":
	case "creationTimestamp desc":
		lp.orderBy = v
	default:
		return lp, errInvalid(fmt.Sprintf("Invalid value for field 'orderBy': '%s'. Supported values are 'name' and 'creationTimestamp desc'.", v))
	}
	lp.includeAllScopes, _ = strconv.ParseBool(q.Get("includeAllScopes"))
	return lp, nil
}

const pageTokenPrefix = "runnet-page:"

func encodePageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + strconv.Itoa(offset)))
}

func decodePageToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(b), pageTokenPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// select filters and orders items.
func (lp listParams) selectItems(items []listItem) []listItem {
	out := make([]listItem, 0, len(items))
	for _, it := range items {
		if matchAll(lp.filter, it.fields) {
			out = append(out, it)
		}
	}
	if lp.orderBy == "creationTimestamp desc" {
		sort.SliceStable(out, func(i, j int) bool { return parseTS(out[i].created).After(parseTS(out[j].created)) })
	}
	return out
}

func parseTS(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// listBody is a Compute list response (e.g. compute#subnetworkList).
type listBody struct {
	ID            string            `json:"id"`
	Items         []json.RawMessage `json:"items,omitempty"`
	Kind          string            `json:"kind"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
	SelfLink      string            `json:"selfLink"`
}

// list answers a list call: filtered, ordered and paged items.
func (lp listParams) list(kind, path string, items []listItem) (any, *apiError) {
	sel := lp.selectItems(items)
	body := listBody{ID: path, Kind: kind, SelfLink: linkBase + path}
	end := min(lp.offset+lp.max, len(sel))
	for i := lp.offset; i < end; i++ {
		body.Items = append(body.Items, sel[i].raw)
	}
	if end < len(sel) {
		body.NextPageToken = encodePageToken(end)
	}
	return body, nil
}

// scopeItems are the items of one scope ("regions/us-central1") of an aggregated list.
type scopeItems struct {
	scope string
	items []listItem
}

// warning is the informational warning of list responses.
type warning struct {
	Code    string        `json:"code"`
	Data    []warningData `json:"data"`
	Message string        `json:"message"`
}

type warningData struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// noResults is the warning that stands for an empty scope of an aggregated list
// (realapi/compute/network-custom-gcloud-describe-listsubnets-routes.http.log).
func noResults(scope string) map[string]any {
	return map[string]any{"warning": warning{
		Code:    "NO_RESULTS_ON_PAGE",
		Data:    []warningData{{Key: "scope", Value: scope}},
		Message: fmt.Sprintf("No results for the scope '%s'.", scope),
	}}
}

// aggregatedBody is a Compute aggregated list response (e.g. compute#subnetworkAggregatedList).
type aggregatedBody struct {
	ID            string                    `json:"id"`
	Items         map[string]map[string]any `json:"items"`
	Kind          string                    `json:"kind"`
	NextPageToken string                    `json:"nextPageToken,omitempty"`
	SelfLink      string                    `json:"selfLink"`
}

// aggregated answers an aggregatedList call. Every scope appears: those without matching
// items (on this page) carry the NO_RESULTS_ON_PAGE warning. Paging counts items across
// scopes in scope order.
func (lp listParams) aggregated(kind, path, listKey string, scopes []scopeItems) (any, *apiError) {
	body := aggregatedBody{ID: path, Kind: kind, SelfLink: linkBase + path, Items: map[string]map[string]any{}}
	total := 0
	type entry struct {
		scope string
		idx   int // items before this one
		item  *listItem
	}
	var entries []entry
	for _, sc := range scopes {
		sel := lp.selectItems(sc.items)
		if len(sel) == 0 {
			entries = append(entries, entry{scope: sc.scope, idx: total})
			continue
		}
		for i := range sel {
			entries = append(entries, entry{scope: sc.scope, idx: total, item: &sel[i]})
			total++
		}
	}
	end := min(lp.offset+lp.max, total)
	more := end < total
	for _, e := range entries {
		inPage := e.idx >= lp.offset && e.idx < end
		if e.item == nil {
			if inPage || (!more && e.idx >= lp.offset) {
				if _, ok := body.Items[e.scope]; !ok {
					body.Items[e.scope] = noResults(e.scope)
				}
			}
			continue
		}
		if !inPage {
			continue
		}
		sl, ok := body.Items[e.scope]
		if !ok || sl["warning"] != nil {
			sl = map[string]any{listKey: []json.RawMessage{}}
			body.Items[e.scope] = sl
		}
		sl[listKey] = append(sl[listKey].([]json.RawMessage), e.item.raw)
	}
	if more {
		body.NextPageToken = encodePageToken(end)
	}
	return body, nil
}

// cond is one comparison of a list filter.
type cond struct {
	field string
	op    string // eq, ne (RE2 full match), =, != (literal), : (contains)
	value string
	re    *regexp.Regexp
}

// parseFilter reads the list filter forms Compute documents: "FIELD eq|ne REGEX" (the regex
// must match the whole value; gcloud sends network eq ".*\bNAME\b.*"), and "FIELD = VALUE",
// "FIELD != VALUE", "FIELD : VALUE"; several comparisons, optionally parenthesized, joined by
// spaces or AND. OR is not supported.
func parseFilter(s string) ([]cond, *apiError) {
	bad := func(why string) ([]cond, *apiError) {
		return nil, errInvalid(fmt.Sprintf("Invalid value for field 'filter': '%s'. Invalid list filter expression: %s.", s, why))
	}
	toks, ok := tokenizeFilter(s)
	if !ok {
		return bad("unbalanced quotes")
	}
	var out []cond
	for i := 0; i < len(toks); {
		if strings.EqualFold(toks[i].text, "AND") && !toks[i].quoted {
			i++
			continue
		}
		if strings.EqualFold(toks[i].text, "OR") && !toks[i].quoted {
			return bad("OR is not supported by the emulator")
		}
		paren := toks[i].text == "(" && !toks[i].quoted
		if paren {
			i++
		}
		if i >= len(toks) {
			return bad("expected a comparison")
		}
		var c cond
		field := toks[i].text
		i++
		if f, op, v, ok := splitInlineOp(field); ok {
			c = cond{field: f, op: op, value: v}
			if v == "" {
				if i >= len(toks) {
					return bad("missing value")
				}
				c.value = toks[i].text
				i++
			}
		} else {
			if i+1 >= len(toks) {
				return bad("expected FIELD OPERATOR VALUE")
			}
			c = cond{field: field, op: strings.ToLower(toks[i].text), value: toks[i+1].text}
			i += 2
		}
		switch c.op {
		case "eq", "ne":
			re, err := regexp.Compile("^(?:" + c.value + ")$")
			if err != nil {
				return bad("bad regular expression " + strconv.Quote(c.value))
			}
			c.re = re
		case "=", "!=", ":":
		default:
			return bad("unknown operator " + strconv.Quote(c.op))
		}
		if paren {
			if i >= len(toks) || toks[i].text != ")" {
				return bad("missing )")
			}
			i++
		}
		out = append(out, c)
	}
	return out, nil
}

// splitInlineOp splits "field=value", "field!=value" and "field:value" written without spaces
// (value may be empty when it follows as the next token).
func splitInlineOp(tok string) (field, op, value string, ok bool) {
	for _, o := range []string{"!=", "=", ":"} {
		if i := strings.Index(tok, o); i > 0 {
			return tok[:i], o, tok[i+len(o):], true
		}
	}
	return "", "", "", false
}

type filterToken struct {
	text   string
	quoted bool
}

func tokenizeFilter(s string) ([]filterToken, bool) {
	var toks []filterToken
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, filterToken{text: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, false
			}
			toks = append(toks, filterToken{text: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()", rune(s[j])) {
				if s[j] == '"' { // field="value"
					k := strings.IndexByte(s[j+1:], '"')
					if k < 0 {
						return nil, false
					}
					j += k + 2
					continue
				}
				j++
			}
			toks = append(toks, filterToken{text: strings.ReplaceAll(s[i:j], `"`, "")})
			i = j
		}
	}
	return toks, true
}

func matchAll(conds []cond, fields map[string]any) bool {
	for _, c := range conds {
		if !c.match(fields) {
			return false
		}
	}
	return true
}

func (c cond) match(fields map[string]any) bool {
	vals := lookup(fields, c.field)
	some := func(f func(string) bool) bool {
		for _, v := range vals {
			if f(v) {
				return true
			}
		}
		return false
	}
	switch c.op {
	case "eq":
		return some(c.re.MatchString)
	case "ne":
		return !some(c.re.MatchString)
	case "=":
		return some(func(v string) bool { return v == c.value })
	case "!=":
		return !some(func(v string) bool { return v == c.value })
	case ":":
		return some(func(v string) bool { return c.value == "*" || strings.Contains(v, c.value) })
	}
	return false
}

// lookup returns the string forms of a (dotted) field of a resource; a list field gives one
// value per element.
func lookup(fields map[string]any, path string) []string {
	var cur any = fields
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	var out []string
	var add func(v any)
	add = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case bool:
			out = append(out, strconv.FormatBool(t))
		case float64:
			out = append(out, strconv.FormatFloat(t, 'f', -1, 64))
		case []any:
			for _, e := range t {
				add(e)
			}
		}
	}
	add(cur)
	return out
}
