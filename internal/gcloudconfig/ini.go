package gcloudconfig

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// INI is a parsed INI file: section name → key → value.
//
// It follows the rules of Python's configparser, which gcloud uses to read
// and write its configuration files, and is strict where configparser is
// strict:
//
//   - Lines end with "\n", "\r\n" or "\r". A UTF-8 byte order mark is skipped;
//     other invalid UTF-8 is an error.
//   - Blank lines and lines whose first non-blank character is '#' or ';' are
//     ignored. There are no inline comments: in "a = b # c" the value is
//     "b # c".
//   - "[name]" starts a section; the name is kept exactly (not trimmed) and
//     may not be empty or contain '[' or ']'. A section may appear only once.
//   - "key = value" or "key: value" (the first '=' or ':' splits) sets a key
//     in the current section. Keys are trimmed and lower-cased; values are
//     trimmed. A key may appear only once per section, must not be empty, and
//     must follow a section header.
//
// One deliberate difference: configparser reads an indented line after a key
// as a continuation of its value (a multi-line value); gcloud never writes
// those, and runnet rejects them rather than guess.
type INI map[string]map[string]string

// Get returns the value of key in section. The key is matched
// case-insensitively, the section exactly.
func (f INI) Get(section, key string) (string, bool) {
	v, ok := f[section][strings.ToLower(key)]
	return v, ok
}

// SyntaxError reports a malformed line.
type SyntaxError struct {
	Line int // 1-based
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// isINISpace reports whether r is leading indentation.
func isINISpace(r rune) bool { return r == ' ' || r == '\t' || r == '\f' || r == '\v' }

// ParseINI parses an INI file; see INI for the rules.
func ParseINI(data []byte) (INI, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, &SyntaxError{Line: invalidUTF8Line(data), Msg: "invalid UTF-8"}
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	f := INI{}
	var (
		cur       map[string]string // current section, nil before the first header
		keyIndent = -1              // indentation of the last key in cur, -1 if none
	)
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		indent := len(line) - len(strings.TrimLeftFunc(line, isINISpace))
		if keyIndent >= 0 && indent > keyIndent {
			return nil, &SyntaxError{Line: n, Msg: "indented line continues the previous value: multi-line values are not supported"}
		}
		if trimmed[0] == '[' {
			if !strings.HasSuffix(trimmed, "]") {
				return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("malformed section header %q", trimmed)}
			}
			name := trimmed[1 : len(trimmed)-1]
			if name == "" || strings.ContainsAny(name, "[]") {
				return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("malformed section header %q", trimmed)}
			}
			if _, dup := f[name]; dup {
				return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("section [%s] appears twice", name)}
			}
			cur = map[string]string{}
			f[name] = cur
			keyIndent = -1
			continue
		}
		d := strings.IndexAny(trimmed, "=:")
		if d < 0 {
			return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("expected \"key = value\", a [section] or a comment, got %q", trimmed)}
		}
		key := strings.ToLower(strings.TrimSpace(trimmed[:d]))
		if key == "" {
			return nil, &SyntaxError{Line: n, Msg: "empty key"}
		}
		if cur == nil {
			return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("key %q before any [section]", key)}
		}
		if _, dup := cur[key]; dup {
			return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("key %q appears twice in its section", key)}
		}
		cur[key] = strings.TrimSpace(trimmed[d+1:])
		keyIndent = indent
	}
	return f, nil
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

// Format renders f in canonical form (sections and keys sorted, "key =
// value"), which ParseINI reads back as f.
func (f INI) Format() []byte {
	var b bytes.Buffer
	sections := make([]string, 0, len(f))
	for s := range f {
		sections = append(sections, s)
	}
	slices.Sort(sections)
	for i, s := range sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", s)
		keys := make([]string, 0, len(f[s]))
		for k := range f[s] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if v := f[s][k]; v == "" {
				fmt.Fprintf(&b, "%s =\n", k)
			} else {
				fmt.Fprintf(&b, "%s = %s\n", k, v)
			}
		}
	}
	return b.Bytes()
}
