package ipam

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestSpace(t *testing.T) {
	for name, want := range map[string][]netip.Prefix{
		"":        {RFC1918[0], RFC1918[1], RFC1918[2], RFC6598},
		"rfc1918": RFC1918,
		"RFC6598": {RFC6598},
		"class-e": {ClassE},
		"all":     {RFC1918[0], RFC1918[1], RFC1918[2], RFC6598, ClassE},
	} {
		got, err := Space(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Space(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := Space("public"); err == nil || !strings.Contains(err.Error(), "valid: rfc1918, rfc6598, class-e, all") {
		t.Errorf("Space(public): %v", err)
	}
	// The default space falls through to RFC 6598 when RFC 1918 is full.
	got, ok := FindFree(DefaultAutoSpace, RFC1918, 26)
	if !ok || got != netip.MustParsePrefix("100.64.0.0/26") {
		t.Errorf("FindFree with RFC 1918 full = %v, %v", got, ok)
	}
	if d := DescribeSpace([]netip.Prefix{RFC1918[1], RFC6598, ClassE}); !slices.Equal(d, []string{"172.16.0.0/12 (RFC 1918)", "100.64.0.0/10 (RFC 6598)", "240.0.0.0/4 (class E)"}) {
		t.Errorf("DescribeSpace = %v", d)
	}
}
