package gcloudconfig

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseINI(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want INI
	}{
		{"empty", "", INI{}},
		{"gcloud file", "[core]\naccount = me@example.com\nproject = my-proj\n\n[run]\nregion = europe-west1\n",
			INI{"core": {"account": "me@example.com", "project": "my-proj"}, "run": {"region": "europe-west1"}}},
		{"colon and no spaces", "[core]\nproject:p1\nzone=z\n", INI{"core": {"project": "p1", "zone": "z"}}},
		{"first delimiter splits", "[s]\na = b=c:d\ne: f=g\n", INI{"s": {"a": "b=c:d", "e": "f=g"}}},
		{"comments", "# top\n; semi\n[core]\n  # indented comment\nproject = p # not a comment\n",
			INI{"core": {"project": "p # not a comment"}}},
		{"keys lower-cased, values kept", "[core]\nProject = My-Proj\n", INI{"core": {"project": "My-Proj"}}},
		{"section names are exact", "[Core]\nproject = p\n[ run ]\nregion = r\n", INI{"Core": {"project": "p"}, " run ": {"region": "r"}}},
		{"empty value", "[core]\nproject =\n", INI{"core": {"project": ""}}},
		{"empty section", "[core]\n", INI{"core": {}}},
		{"crlf and bom", "\ufeff[core]\r\nproject = p\r\n", INI{"core": {"project": "p"}}},
		{"old mac line endings", "[core]\rproject = p\r", INI{"core": {"project": "p"}}},
		{"whitespace around everything", "  [core]  \n\tproject\t=\tp\t\n", INI{"core": {"project": "p"}}},
		{"same indentation is not continuation", "[s]\n  a = 1\n  b = 2\n", INI{"s": {"a": "1", "b": "2"}}},
		{"indented key right after header", "[s]\n  a = 1\n", INI{"s": {"a": "1"}}},
		{"less indented after key", "[s]\n  a = 1\nb = 2\n", INI{"s": {"a": "1", "b": "2"}}},
		{"indented header after key resets", "[s]\na = 1\n[t]\n  b = 2\n", INI{"s": {"a": "1"}, "t": {"b": "2"}}},
		{"no trailing newline", "[s]\na = 1", INI{"s": {"a": "1"}}},
		{"brackets in value", "[s]\na = [x]\n", INI{"s": {"a": "[x]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseINI([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseINI: %v", err)
			}
			if !equalINI(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseINIErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"key before section", "project = p\n", 1, "before any [section]"},
		{"no delimiter", "[core]\nproject p\n", 2, `expected "key = value"`},
		{"empty key", "[core]\n = p\n", 2, "empty key"},
		{"unclosed header", "[core\n", 1, "malformed section header"},
		{"text after header", "[core] x\n", 1, "malformed section header"},
		{"empty header", "[]\n", 1, "malformed section header"},
		{"nested brackets", "[a[b]]\n", 1, "malformed section header"},
		{"duplicate section", "[core]\n[run]\n[core]\n", 3, "section [core] appears twice"},
		{"duplicate key", "[core]\nproject = a\nPROJECT = b\n", 3, `key "project" appears twice`},
		{"continuation", "[core]\nproject = a\n  b\n", 3, "multi-line values are not supported"},
		{"continuation after blank", "[core]\nproject = a\n\n  b = c\n", 4, "multi-line values are not supported"},
		{"invalid utf-8", "[core]\nproject = \xff\n", 2, "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseINI([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SyntaxError", err)
			}
			if se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got line %d %q, want line %d containing %q", se.Line, se.Msg, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestINIGet(t *testing.T) {
	f := INI{"core": {"project": "p"}}
	if v, ok := f.Get("core", "PROJECT"); !ok || v != "p" {
		t.Errorf("Get(core, PROJECT) = %q, %v", v, ok)
	}
	if _, ok := f.Get("Core", "project"); ok {
		t.Error("sections must match exactly")
	}
	if _, ok := f.Get("run", "region"); ok {
		t.Error("missing section found")
	}
}

func TestINIFormat(t *testing.T) {
	f := INI{"run": {"region": "r"}, "core": {"project": "p", "account": ""}}
	want := "[core]\naccount =\nproject = p\n\n[run]\nregion = r\n"
	if got := string(f.Format()); got != want {
		t.Errorf("Format() = %q, want %q", got, want)
	}
}

func equalINI(a, b INI) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// FuzzParseINI checks that the parser never panics, that what it accepts
// obeys the documented rules, and that Format round-trips. The seed corpus is
// in testdata/fuzz/FuzzParseINI.
func FuzzParseINI(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ini, err := ParseINI(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v is not a *SyntaxError with a line", err)
			}
			return
		}
		for s, kv := range ini {
			if s == "" || strings.ContainsAny(s, "[]\n\r") || !utf8.ValidString(s) {
				t.Fatalf("bad section name %q", s)
			}
			for k, v := range kv {
				if k == "" || k != strings.TrimSpace(k) || k != strings.ToLower(k) || strings.ContainsAny(k, "=:\n\r") {
					t.Fatalf("bad key %q", k)
				}
				if v != strings.TrimSpace(v) || strings.ContainsAny(v, "\n\r") {
					t.Fatalf("bad value %q", v)
				}
			}
		}
		again, err := ParseINI(ini.Format())
		if err != nil {
			t.Fatalf("re-parsing Format output: %v\n%s", err, ini.Format())
		}
		if !equalINI(ini, again) {
			t.Fatalf("round trip changed the file:\nfirst:  %#v\nsecond: %#v", ini, again)
		}
	})
}
