package ipam

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// pfx parses a prefix for test tables; it accepts anything netip does
// (including IPv6 and non-masked forms) so tables can feed odd inputs.
func pfx(t testing.TB, s string) netip.Prefix {
	t.Helper()
	if s == "" {
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatalf("bad test prefix %q: %v", s, err)
	}
	return p
}

func pfxs(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = pfx(t, s)
	}
	return out
}

func TestConstants(t *testing.T) {
	// The constants must agree with each other: a connector range is one
	// Direct VPC block, and the Direct VPC minimum is a valid subnet size.
	if got := Size(netip.PrefixFrom(netip.IPv4Unspecified(), ConnectorPrefix)); got != DirectVPCBlockSize {
		t.Errorf("a /%d has %d addresses, want DirectVPCBlockSize %d", ConnectorPrefix, got, DirectVPCBlockSize)
	}
	if DirectVPCMinPrefix < MinSubnetPrefix || DirectVPCMinPrefix > MaxSubnetPrefix {
		t.Errorf("DirectVPCMinPrefix /%d outside subnet bounds /%d../%d", DirectVPCMinPrefix, MinSubnetPrefix, MaxSubnetPrefix)
	}
	if !slices.Equal(DirectVPCSpace, append(slices.Clone(RFC1918), RFC6598, ClassE)) {
		t.Errorf("DirectVPCSpace = %v, want RFC1918 + RFC6598 + ClassE", DirectVPCSpace)
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in      string
		want    string // canonical result when ok
		wantErr string // full Error() text; "" means success
		wrapped bool   // the PrefixError wraps a netip error
	}{
		{in: "10.0.0.0/24", want: "10.0.0.0/24"},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.0.0.0/29", want: "10.0.0.0/29"},
		{in: "10.0.0.16/28", want: "10.0.0.16/28"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "10.1.2.3/32", want: "10.1.2.3/32"},
		{in: "255.255.255.255/32", want: "255.255.255.255/32"},
		{in: "240.0.0.0/4", want: "240.0.0.0/4"},

		{in: "10.0.1.0/23", wantErr: "10.0.1.0/23 is not a network address (did you mean 10.0.0.0/23?)"},
		{in: "10.0.0.1/8", wantErr: "10.0.0.1/8 is not a network address (did you mean 10.0.0.0/8?)"},
		{in: "10.0.0.8/28", wantErr: "10.0.0.8/28 is not a network address (did you mean 10.0.0.0/28?)"},
		{in: "1.0.0.0/0", wantErr: "1.0.0.0/0 is not a network address (did you mean 0.0.0.0/0?)"},
		{in: "", wantErr: `"" is not a CIDR range: empty`},
		{in: "10.0.0.0", wantErr: "10.0.0.0 is not a CIDR range: missing /prefix-length"},
		{in: " 10.0.0.0/8", wantErr: `" 10.0.0.0/8" is not a CIDR range`, wrapped: true},
		{in: "10.0.0.0/8\n", wantErr: `"10.0.0.0/8\n" is not a CIDR range`, wrapped: true},
		{in: "10.0.0.0/33", wantErr: "10.0.0.0/33 is not a CIDR range", wrapped: true},
		{in: "10.0.0.0/-1", wantErr: "10.0.0.0/-1 is not a CIDR range", wrapped: true},
		{in: "10.0.0.0/+8", wantErr: "10.0.0.0/+8 is not a CIDR range", wrapped: true},
		{in: "10.0.0.0/08", wantErr: "10.0.0.0/08 is not a CIDR range", wrapped: true},
		{in: "010.0.0.0/8", wantErr: "010.0.0.0/8 is not a CIDR range", wrapped: true},
		{in: "10.0.0/8", wantErr: "10.0.0/8 is not a CIDR range", wrapped: true},
		{in: "1.2.3.4.5/8", wantErr: "1.2.3.4.5/8 is not a CIDR range", wrapped: true},
		{in: "10.0.0.0//8", wantErr: "10.0.0.0//8 is not a CIDR range", wrapped: true},
		{in: "10.0.0.0/8/8", wantErr: "10.0.0.0/8/8 is not a CIDR range", wrapped: true},
		{in: "10.0.0.0/", wantErr: "10.0.0.0/ is not a CIDR range", wrapped: true},
		{in: "/8", wantErr: "/8 is not a CIDR range", wrapped: true},
		{in: "256.0.0.0/8", wantErr: "256.0.0.0/8 is not a CIDR range", wrapped: true},
		{in: "fe80::1%eth0/64", wantErr: "fe80::1%eth0/64 is not a CIDR range", wrapped: true},
		{in: "::/0", wantErr: "::/0 is not an IPv4 CIDR range"},
		{in: "2001:db8::/32", wantErr: "2001:db8::/32 is not an IPv4 CIDR range"},
		{in: "::ffff:10.0.0.0/104", wantErr: "::ffff:10.0.0.0/104 is not an IPv4 CIDR range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePrefix(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParsePrefix(%q) error: %v", tt.in, err)
				}
				if got.String() != tt.want {
					t.Fatalf("ParsePrefix(%q) = %v, want %v", tt.in, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParsePrefix(%q) = %v, want error %q", tt.in, got, tt.wantErr)
			}
			if got != (netip.Prefix{}) {
				t.Errorf("ParsePrefix(%q) returned %v alongside an error", tt.in, got)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("ParsePrefix(%q) error = %q, want %q", tt.in, err, tt.wantErr)
			}
			var pe *PrefixError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePrefix(%q) error %T is not a *PrefixError", tt.in, err)
			}
			if pe.Input != tt.in {
				t.Errorf("PrefixError.Input = %q, want %q", pe.Input, tt.in)
			}
			if pe.Reason == "" {
				t.Error("PrefixError.Reason is empty")
			}
			if (errors.Unwrap(err) != nil) != tt.wrapped {
				t.Errorf("errors.Unwrap(%v) = %v, want wrapped=%v", err, errors.Unwrap(err), tt.wrapped)
			}
		})
	}
}

func TestMustParsePrefix(t *testing.T) {
	if got := MustParsePrefix("10.8.0.0/28"); got != netip.MustParsePrefix("10.8.0.0/28") {
		t.Errorf("MustParsePrefix = %v", got)
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "did you mean 10.8.0.0/28?") {
			t.Errorf("MustParsePrefix(bad) panic = %v, want a hint", r)
		}
	}()
	MustParsePrefix("10.8.0.1/28")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		in                        string
		subnet, direct, connector string // "" = valid, else the wanted Error()
	}{
		{
			in:        "10.0.0.0/8",
			connector: "10.0.0.0/8 is not a valid connector range: it must be a /28",
		},
		{
			in:        "10.0.0.0/7",
			subnet:    "10.0.0.0/7 is not a valid subnet range: the prefix length must be from /8 to /29",
			direct:    "10.0.0.0/7 is not a valid subnet range: the prefix length must be from /8 to /29",
			connector: "10.0.0.0/7 is not a valid connector range: it must be a /28",
		},
		{
			in:        "10.0.0.0/26",
			connector: "10.0.0.0/26 is not a valid connector range: it must be a /28",
		},
		{
			in:        "10.0.0.0/27",
			direct:    "10.0.0.0/27 is too small for Direct VPC egress: the subnet must be /26 or larger",
			connector: "10.0.0.0/27 is not a valid connector range: it must be a /28",
		},
		{
			in:     "10.8.0.0/28",
			direct: "10.8.0.0/28 is too small for Direct VPC egress: the subnet must be /26 or larger",
		},
		{
			in:        "10.0.0.0/29",
			direct:    "10.0.0.0/29 is too small for Direct VPC egress: the subnet must be /26 or larger",
			connector: "10.0.0.0/29 is not a valid connector range: it must be a /28",
		},
		{
			in:        "10.0.0.0/30",
			subnet:    "10.0.0.0/30 is not a valid subnet range: the prefix length must be from /8 to /29",
			direct:    "10.0.0.0/30 is not a valid subnet range: the prefix length must be from /8 to /29",
			connector: "10.0.0.0/30 is not a valid connector range: it must be a /28",
		},
		{
			in:        "10.0.0.1/32",
			subnet:    "10.0.0.1/32 is not a valid subnet range: the prefix length must be from /8 to /29",
			direct:    "10.0.0.1/32 is not a valid subnet range: the prefix length must be from /8 to /29",
			connector: "10.0.0.1/32 is not a valid connector range: it must be a /28",
		},
		{
			in:        "8.8.8.0/24",
			direct:    "8.8.8.0/24 is not allowed for Direct VPC egress: it must be within RFC 1918, 100.64.0.0/10 or 240.0.0.0/4",
			connector: "8.8.8.0/24 is not a valid connector range: it must be a /28",
		},
		{
			in:        "100.64.0.0/16",
			connector: "100.64.0.0/16 is not a valid connector range: it must be a /28",
		},
		{
			in:        "10.0.1.0/23",
			subnet:    "10.0.1.0/23 is not a network address (did you mean 10.0.0.0/23?)",
			direct:    "10.0.1.0/23 is not a network address (did you mean 10.0.0.0/23?)",
			connector: "10.0.1.0/23 is not a network address (did you mean 10.0.0.0/23?)",
		},
		{
			in:        "2001:db8::/48",
			subnet:    "2001:db8::/48 is not an IPv4 CIDR range",
			direct:    "2001:db8::/48 is not an IPv4 CIDR range",
			connector: "2001:db8::/48 is not an IPv4 CIDR range",
		},
		{
			in:        "",
			subnet:    `"" is not a valid CIDR range`,
			direct:    `"" is not a valid CIDR range`,
			connector: `"" is not a valid CIDR range`,
		},
	}
	check := func(t *testing.T, name string, err error, want string) {
		t.Helper()
		if want == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", name, err)
			}
			return
		}
		var pe *PrefixError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error = %v (%T), want *PrefixError %q", name, err, err, want)
			return
		}
		if err.Error() != want {
			t.Errorf("%s: error = %q, want %q", name, err, want)
		}
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p := pfx(t, tt.in)
			check(t, "ValidateSubnetRange", ValidateSubnetRange(p), tt.subnet)
			check(t, "ValidateDirectVPCSubnet", ValidateDirectVPCSubnet(p), tt.direct)
			check(t, "ValidateConnectorRange", ValidateConnectorRange(p), tt.connector)
		})
	}
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"10.0.0.0/24", "10.0.0.0/24", true},
		{"10.0.0.0/24", "10.0.1.0/24", false},     // adjacent, upper side
		{"10.0.1.0/24", "10.0.0.0/24", false},     // adjacent, lower side
		{"10.0.0.0/23", "10.0.1.0/24", true},      // second half
		{"10.0.0.0/8", "10.255.255.240/28", true}, // last block of a /8
		{"10.0.0.0/8", "11.0.0.0/28", false},      // first block after a /8
		{"10.0.0.255/32", "10.0.1.0/24", false},   // last address before
		{"10.0.0.255/32", "10.0.0.0/24", true},    // last address inside
		{"10.0.0.0/32", "10.0.0.0/32", true},
		{"0.0.0.0/0", "192.168.7.0/29", true},
		{"10.8.0.0/28", "10.8.0.16/28", false},
		{"10.8.0.0/28", "10.8.0.8/29", true},
		{"10.0.0.7/24", "10.0.0.200/32", true}, // non-masked input
		{"::/0", "::1/128", false},             // IPv6 is out of scope
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", false},
		{"", "10.0.0.0/8", false},
		{"", "", false},
	}
	for _, tt := range tests {
		a, b := pfx(t, tt.a), pfx(t, tt.b)
		if got := Overlaps(a, b); got != tt.want {
			t.Errorf("Overlaps(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Overlaps(b, a); got != tt.want {
			t.Errorf("Overlaps(%s, %s) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		outer, inner string
		want         bool
	}{
		{"10.0.0.0/8", "10.0.0.0/8", true},
		{"10.0.0.0/8", "10.20.0.0/16", true},
		{"10.0.0.0/8", "10.255.255.255/32", true},
		{"10.0.0.0/8", "10.0.0.0/7", false},
		{"10.0.0.0/16", "10.0.0.0/8", false},
		{"10.0.0.0/24", "10.0.1.0/24", false},
		{"10.0.0.0/23", "10.0.1.0/24", true},
		{"0.0.0.0/0", "255.255.255.255/32", true},
		{"172.16.0.0/12", "172.32.0.0/16", false},
		{"10.0.0.0/8", "::/0", false},
		{"::/0", "::/8", false},
		{"", "10.0.0.0/8", false},
		{"10.0.0.0/8", "", false},
	}
	for _, tt := range tests {
		if got := Contains(pfx(t, tt.outer), pfx(t, tt.inner)); got != tt.want {
			t.Errorf("Contains(%s, %s) = %v, want %v", tt.outer, tt.inner, got, tt.want)
		}
	}
}

func TestSizeUsableFirstHostBlocks(t *testing.T) {
	tests := []struct {
		p         string
		size      uint64
		usable    uint64
		firstHost string // "" = invalid Addr
		blocks    int
	}{
		{"0.0.0.0/0", 1 << 32, 1<<32 - 4, "0.0.0.1", 1<<28 - 1},
		{"10.0.0.0/8", 16777216, 16777212, "10.0.0.1", 1048575},
		{"10.0.0.0/16", 65536, 65532, "10.0.0.1", 4095},
		{"10.0.0.0/20", 4096, 4092, "10.0.0.1", 255},
		{"10.0.0.0/23", 512, 508, "10.0.0.1", 31},
		{"10.0.0.0/24", 256, 252, "10.0.0.1", 15},
		{"10.0.0.0/25", 128, 124, "10.0.0.1", 7},
		{"10.0.0.0/26", 64, 60, "10.0.0.1", 3},
		{"10.0.0.0/27", 32, 28, "10.0.0.1", 1},
		{"10.8.0.0/28", 16, 12, "10.8.0.1", 0},
		{"10.0.0.8/29", 8, 4, "10.0.0.9", 0},
		{"10.0.0.4/30", 4, 0, "10.0.0.5", 0},
		{"10.0.0.2/31", 2, 0, "10.0.0.3", 0},
		{"10.0.0.1/32", 1, 0, "", 0},
		{"255.255.255.254/31", 2, 0, "255.255.255.255", 0},
		{"10.0.0.77/24", 256, 252, "10.0.0.1", 15}, // non-masked: masked first
		{"2001:db8::/64", 0, 0, "", 0},
		{"", 0, 0, "", 0},
	}
	for _, tt := range tests {
		p := pfx(t, tt.p)
		if got := Size(p); got != tt.size {
			t.Errorf("Size(%s) = %d, want %d", tt.p, got, tt.size)
		}
		if got := Usable(p); got != tt.usable {
			t.Errorf("Usable(%s) = %d, want %d", tt.p, got, tt.usable)
		}
		var want netip.Addr
		if tt.firstHost != "" {
			want = netip.MustParseAddr(tt.firstHost)
		}
		if got := FirstHost(p); got != want {
			t.Errorf("FirstHost(%s) = %v, want %v", tt.p, got, want)
		}
		if got := Blocks(p); got != tt.blocks {
			t.Errorf("Blocks(%s) = %d, want %d", tt.p, got, tt.blocks)
		}
	}
}

func TestFree(t *testing.T) {
	tests := []struct {
		p        string
		reserved int
		want     int
	}{
		{"10.0.0.0/24", 0, 240},
		{"10.0.0.0/24", 5, 160},
		{"10.0.0.0/24", 14, 16},
		{"10.0.0.0/24", 15, 0},
		{"10.0.0.0/24", 20, 0},
		{"10.0.0.0/24", -3, 240},
		{"10.0.0.0/26", 0, 48},
		{"10.0.0.0/26", 2, 16},
		{"10.0.0.0/28", 0, 0},
		{"10.0.0.0/8", 1, 16777184},
		{"", 0, 0},
	}
	for _, tt := range tests {
		if got := Free(pfx(t, tt.p), tt.reserved); got != tt.want {
			t.Errorf("Free(%s, %d) = %d, want %d", tt.p, tt.reserved, got, tt.want)
		}
	}
}

func TestAllowedForDirectVPCAndIsPrivate(t *testing.T) {
	tests := []struct {
		p                string
		allowed, private bool
	}{
		{"10.0.0.0/8", true, true},
		{"10.200.0.0/26", true, true},
		{"172.16.0.0/12", true, true},
		{"172.31.255.192/26", true, true},
		{"172.32.0.0/16", false, false},   // just above 172.16/12
		{"172.15.255.0/24", false, false}, // just below
		{"192.168.0.0/16", true, true},
		{"192.168.0.0/15", false, false}, // straddles 192.168/16
		{"192.169.0.0/24", false, false},
		{"100.64.0.0/10", true, false},
		{"100.127.255.192/26", true, false},
		{"100.128.0.0/16", false, false},
		{"100.0.0.0/8", false, false}, // contains RFC 6598 but is larger
		{"240.0.0.0/4", true, false},
		{"255.255.255.0/24", true, false},
		{"224.0.0.0/4", false, false},
		{"8.8.8.0/24", false, false},
		{"0.0.0.0/0", false, false},
		{"fd00::/8", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		p := pfx(t, tt.p)
		if got := AllowedForDirectVPC(p); got != tt.allowed {
			t.Errorf("AllowedForDirectVPC(%s) = %v, want %v", tt.p, got, tt.allowed)
		}
		if got := IsPrivate(p); got != tt.private {
			t.Errorf("IsPrivate(%s) = %v, want %v", tt.p, got, tt.private)
		}
	}
}

func TestBlocksForIPs(t *testing.T) {
	tests := []struct{ ips, want int }{
		{math.MinInt, 0}, {-1, 0}, {0, 0}, {1, 1}, {2, 1}, {15, 1}, {16, 1}, {17, 2},
		{32, 2}, {33, 3}, {200, 13}, {400, 25}, {2000, 125},
		{math.MaxInt, math.MaxInt/16 + 1},
	}
	for _, tt := range tests {
		if got := BlocksForIPs(tt.ips); got != tt.want {
			t.Errorf("BlocksForIPs(%d) = %d, want %d", tt.ips, got, tt.want)
		}
	}
}

func TestBlocksForInstances(t *testing.T) {
	// ceil(n * IPs / 16) with big.Int, so the overflow-safe form is checked
	// against the plain formula even at math.MaxInt.
	ref := func(n int) int {
		if n <= 0 {
			return 0
		}
		ips := new(big.Int).Mul(big.NewInt(int64(n)), big.NewInt(DirectVPCIPsPerInstance))
		ips.Add(ips, big.NewInt(DirectVPCBlockSize-1))
		return int(ips.Div(ips, big.NewInt(DirectVPCBlockSize)).Int64())
	}
	tests := []struct{ instances, want int }{
		{-5, 0}, {0, 0}, {1, 1}, {8, 1}, {9, 2}, {10, 2}, {24, 3}, {25, 4},
		{100, 13}, {200, 25}, {1000, 125},
	}
	for _, tt := range tests {
		if got := BlocksForInstances(tt.instances); got != tt.want {
			t.Errorf("BlocksForInstances(%d) = %d, want %d", tt.instances, got, tt.want)
		}
	}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 1 << 20, math.MaxInt / 2, math.MaxInt - 1, math.MaxInt} {
		if got, want := BlocksForInstances(n), ref(n); got != want {
			t.Errorf("BlocksForInstances(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestFindFree(t *testing.T) {
	tests := []struct {
		name  string
		space []string
		used  []string
		bits  int
		want  string // "" = none
	}{
		{name: "empty space", space: nil, bits: 24},
		{name: "nothing used", space: []string{"10.0.0.0/8"}, bits: 24, want: "10.0.0.0/24"},
		{name: "first taken", space: []string{"10.0.0.0/8"}, used: []string{"10.0.0.0/24"}, bits: 24, want: "10.0.1.0/24"},
		{name: "partial overlap of candidate", space: []string{"10.0.0.0/8"}, used: []string{"10.0.0.128/25"}, bits: 24, want: "10.0.1.0/24"},
		{name: "small used forces big jump", space: []string{"10.0.0.0/8"}, used: []string{"10.0.0.0/28"}, bits: 16, want: "10.1.0.0/16"},
		{name: "gap before first used", space: []string{"10.0.0.0/8"}, used: []string{"10.0.0.16/28"}, bits: 28, want: "10.0.0.0/28"},
		{name: "gap too small", space: []string{"10.0.0.0/24"}, used: []string{"10.0.0.16/28", "10.0.0.64/26"}, bits: 26, want: "10.0.0.128/26"},
		{name: "fills a hole", space: []string{"10.0.0.0/24"}, used: []string{"10.0.0.0/26", "10.0.0.128/25", "10.0.0.64/28", "10.0.0.96/27"}, bits: 28, want: "10.0.0.80/28"},
		{name: "unsorted, duplicate, overlapping used", space: []string{"10.0.0.0/24"}, used: []string{"10.0.0.32/27", "10.0.0.0/27", "10.0.0.0/26", "10.0.0.32/27", "10.0.0.0/28"}, bits: 26, want: "10.0.0.64/26"},
		{name: "adjacent used merge", space: []string{"10.0.0.0/24"}, used: []string{"10.0.0.0/28", "10.0.0.16/28", "10.0.0.32/28"}, bits: 28, want: "10.0.0.48/28"},
		{name: "used larger than space", space: []string{"10.0.0.0/16", "172.16.0.0/12"}, used: []string{"10.0.0.0/8"}, bits: 26, want: "172.16.0.0/26"},
		{name: "space order is preference", space: []string{"192.168.0.0/16", "10.0.0.0/8"}, bits: 24, want: "192.168.0.0/24"},
		{name: "space full moves on", space: []string{"10.0.0.0/24", "10.0.1.0/24"}, used: []string{"10.0.0.0/25", "10.0.0.128/25"}, bits: 25, want: "10.0.1.0/25"},
		{name: "everything used", space: []string{"10.0.0.0/24"}, used: []string{"0.0.0.0/0"}, bits: 28},
		{name: "space smaller than request", space: []string{"10.0.0.0/28", "10.0.0.0/8"}, bits: 24, want: "10.0.0.0/24"},
		{name: "space smaller than request only", space: []string{"10.0.0.0/28"}, bits: 24},
		{name: "space equals request", space: []string{"10.8.0.0/28"}, bits: 28, want: "10.8.0.0/28"},
		{name: "space equals request taken", space: []string{"10.8.0.0/28"}, used: []string{"10.8.0.8/32"}, bits: 28},
		{name: "top of address space", space: []string{"255.255.255.240/28"}, bits: 29, want: "255.255.255.240/29"},
		{name: "top of address space, second half", space: []string{"255.255.255.240/28"}, used: []string{"255.255.255.240/29"}, bits: 29, want: "255.255.255.248/29"},
		{name: "top of address space full", space: []string{"240.0.0.0/4"}, used: []string{"240.0.0.0/5", "248.0.0.0/5"}, bits: 28},
		{name: "whole space as /0", space: []string{"0.0.0.0/0"}, bits: 0, want: "0.0.0.0/0"},
		{name: "whole space as /32", space: []string{"0.0.0.0/0"}, used: []string{"0.0.0.0/32"}, bits: 32, want: "0.0.0.1/32"},
		{name: "non-masked space is masked", space: []string{"10.0.0.77/24"}, bits: 26, want: "10.0.0.0/26"},
		{name: "IPv6 entries ignored", space: []string{"::/0", "10.0.0.0/8"}, used: []string{"::/0", "::ffff:0.0.0.0/96"}, bits: 24, want: "10.0.0.0/24"},
		{name: "invalid entries ignored", space: []string{"", "10.0.0.0/8"}, used: []string{""}, bits: 24, want: "10.0.0.0/24"},
		{name: "bits too large", space: []string{"10.0.0.0/8"}, bits: 33},
		{name: "bits negative", space: []string{"10.0.0.0/8"}, bits: -1},
		{name: "Direct VPC space", space: prefixStrings(DirectVPCSpace), used: prefixStrings(RFC1918), bits: 26, want: "100.64.0.0/26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := pfxs(t, tt.used...)
			before := slices.Clone(used)
			got, ok := FindFree(pfxs(t, tt.space...), used, tt.bits)
			if !slices.Equal(used, before) {
				t.Errorf("FindFree modified used: %v, was %v", used, before)
			}
			if tt.want == "" {
				if ok {
					t.Fatalf("FindFree = %v, want none", got)
				}
				return
			}
			if !ok || got != netip.MustParsePrefix(tt.want) {
				t.Fatalf("FindFree = %v, %v; want %s", got, ok, tt.want)
			}
		})
	}
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestFindFreeSkipsManyUsed(t *testing.T) {
	// 10.0.0.0/16 fully carved into 4096 /28s, shuffled, with one /28 hole.
	space := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	base := netip.MustParseAddr("10.0.0.0")
	var used []netip.Prefix
	hole := 3001
	for i := range 4096 {
		if i == hole {
			continue
		}
		used = append(used, netip.PrefixFrom(addrAt(base, i*16), 28))
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(used), func(i, j int) { used[i], used[j] = used[j], used[i] })

	if got, ok := FindFree(space, used, 28); !ok || got != netip.PrefixFrom(addrAt(base, hole*16), 28) {
		t.Errorf("FindFree /28 = %v, %v; want the hole 10.0.187.144/28", got, ok)
	}
	if got, ok := FindFree(space, used, 27); !ok || got.String() != "10.1.0.0/27" {
		t.Errorf("FindFree /27 = %v, %v; want 10.1.0.0/27", got, ok)
	}
	if got, ok := FindFree(space, used, 16); !ok || got.String() != "10.1.0.0/16" {
		t.Errorf("FindFree /16 = %v, %v; want 10.1.0.0/16", got, ok)
	}
}

func addrAt(base netip.Addr, off int) netip.Addr {
	first, _ := bounds(netip.PrefixFrom(base, 32))
	return addrFrom(first + uint64(off))
}

// TestFindFreeMatchesBruteForce checks the jumping search against the
// obvious one-candidate-at-a-time scan on random inputs.
func TestFindFreeMatchesBruteForce(t *testing.T) {
	brute := func(space, used []netip.Prefix, bits int) (netip.Prefix, bool) {
		for _, s := range space {
			if s.Bits() > bits {
				continue
			}
			for c := s.Masked().Addr(); s.Contains(c); {
				cand := netip.PrefixFrom(c, bits)
				free := true
				for _, u := range used {
					if u.Overlaps(cand) {
						free = false
						break
					}
				}
				if free {
					return cand, true
				}
				c = addrAt(c, int(Size(cand)))
				if c.IsUnspecified() { // wrapped past 255.255.255.255
					break
				}
			}
		}
		return netip.Prefix{}, false
	}
	r := rand.New(rand.NewPCG(7, 7))
	space := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/22"),
		netip.MustParsePrefix("10.0.8.0/23"),
		netip.MustParsePrefix("255.255.255.0/24"),
	}
	for i := range 2000 {
		var used []netip.Prefix
		for range r.IntN(60) {
			s := space[r.IntN(len(space))]
			b := 22 + r.IntN(11) // /22../32
			a := addrAt(s.Addr(), r.IntN(int(Size(s))))
			used = append(used, netip.PrefixFrom(a, b).Masked())
		}
		bits := 22 + r.IntN(11)
		got, gotOK := FindFree(space, used, bits)
		want, wantOK := brute(space, used, bits)
		if got != want || gotOK != wantOK {
			t.Fatalf("case %d: FindFree(/%d, used=%v) = %v, %v; brute force %v, %v", i, bits, used, got, gotOK, want, wantOK)
		}
	}
}

func TestPlanSubnet(t *testing.T) {
	tests := []struct {
		instances, workloads int
		overlap              bool
		ips, blocks          int
		prefix               int
		usable               uint64
		capacity             int
		steps                []string // checked when non-nil
	}{
		{
			instances: 1, workloads: 1, ips: 2, blocks: 1, prefix: 26, usable: 60, capacity: 3,
			steps: []string{
				"2 IPs x 1 instance = 2 IPs per revision",
				"2 IPs in /28 blocks = 1 block = 16 addresses per revision",
				"/26 has 60 usable addresses (64 - 4 reserved) = 3 blocks >= 1 block needed",
				"minimum for Direct VPC is /26",
			},
		},
		{instances: 1, workloads: 1, overlap: true, ips: 4, blocks: 2, prefix: 26, usable: 60, capacity: 3},
		{instances: 10, workloads: 1, ips: 20, blocks: 2, prefix: 26, usable: 60, capacity: 3},
		{
			instances: 10, workloads: 1, overlap: true, ips: 40, blocks: 4, prefix: 25, usable: 124, capacity: 7,
			steps: []string{
				"2 IPs x 10 instances = 20 IPs per revision",
				"20 IPs in /28 blocks = 2 blocks = 32 addresses per revision",
				"2 blocks x 2 (rollout overlap: old and new revisions hold IPs at once) = 4 blocks per workload",
				"/26 has 60 usable addresses (64 - 4 reserved) = 3 blocks < 4 blocks needed",
				"/25 has 124 usable addresses (128 - 4 reserved) = 7 blocks >= 4 blocks needed",
			},
		},
		{instances: 24, workloads: 1, ips: 48, blocks: 3, prefix: 26, usable: 60, capacity: 3}, // exactly fills /26
		{instances: 25, workloads: 1, ips: 50, blocks: 4, prefix: 25, usable: 124, capacity: 7},
		{instances: 100, workloads: 1, ips: 200, blocks: 13, prefix: 24, usable: 252, capacity: 15},
		{
			instances: 100, workloads: 1, overlap: true, ips: 400, blocks: 26, prefix: 23, usable: 508, capacity: 31,
			steps: []string{
				"2 IPs x 100 instances = 200 IPs per revision",
				"200 IPs in /28 blocks = 13 blocks = 208 addresses per revision",
				"13 blocks x 2 (rollout overlap: old and new revisions hold IPs at once) = 26 blocks per workload",
				"/24 has 252 usable addresses (256 - 4 reserved) = 15 blocks < 26 blocks needed",
				"/23 has 508 usable addresses (512 - 4 reserved) = 31 blocks >= 26 blocks needed",
			},
		},
		{instances: 1000, workloads: 1, ips: 2000, blocks: 125, prefix: 21, usable: 2044, capacity: 127},
		{instances: 1000, workloads: 1, overlap: true, ips: 4000, blocks: 250, prefix: 20, usable: 4092, capacity: 255},
		{
			instances: 100, workloads: 3, overlap: true, ips: 1200, blocks: 78, prefix: 21, usable: 2044, capacity: 127,
			steps: []string{
				"2 IPs x 100 instances = 200 IPs per revision",
				"200 IPs in /28 blocks = 13 blocks = 208 addresses per revision",
				"13 blocks x 2 (rollout overlap: old and new revisions hold IPs at once) = 26 blocks per workload",
				"26 blocks x 3 workloads = 78 blocks = 1248 addresses",
				"/22 has 1020 usable addresses (1024 - 4 reserved) = 63 blocks < 78 blocks needed",
				"/21 has 2044 usable addresses (2048 - 4 reserved) = 127 blocks >= 78 blocks needed",
			},
		},
		// Eight 1-instance workloads need 8 blocks, not 1: each reserves
		// its own block, so a /25 (7 blocks) is too small.
		{instances: 1, workloads: 8, ips: 16, blocks: 8, prefix: 24, usable: 252, capacity: 15},
		{instances: 8, workloads: 2, ips: 32, blocks: 2, prefix: 26, usable: 60, capacity: 3},
		{instances: 10, workloads: 10, overlap: true, ips: 400, blocks: 40, prefix: 22, usable: 1020, capacity: 63},
		// The largest plans: exactly a /8.
		{instances: 8388600, workloads: 1, ips: 16777200, blocks: 1048575, prefix: 8, usable: 16777212, capacity: 1048575},
		{instances: 8, workloads: 1048575, ips: 16777200, blocks: 1048575, prefix: 8, usable: 16777212, capacity: 1048575},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%dx%d/overlap=%v", tt.instances, tt.workloads, tt.overlap)
		t.Run(name, func(t *testing.T) {
			got, err := PlanSubnet(tt.instances, tt.workloads, tt.overlap)
			if err != nil {
				t.Fatalf("PlanSubnet: %v", err)
			}
			if got.MaxInstances != tt.instances || got.Workloads != tt.workloads || got.RolloutOverlap != tt.overlap {
				t.Errorf("inputs echoed as %d, %d, %v", got.MaxInstances, got.Workloads, got.RolloutOverlap)
			}
			if got.IPsNeeded != tt.ips || got.BlocksNeeded != tt.blocks {
				t.Errorf("needs %d IPs / %d blocks, want %d / %d", got.IPsNeeded, got.BlocksNeeded, tt.ips, tt.blocks)
			}
			if got.Prefix != tt.prefix || got.Usable != tt.usable || got.Blocks != tt.capacity {
				t.Errorf("chose /%d (%d usable, %d blocks), want /%d (%d usable, %d blocks)",
					got.Prefix, got.Usable, got.Blocks, tt.prefix, tt.usable, tt.capacity)
			}
			// Invariants: the chosen size fits, the next smaller one does
			// not (unless the chosen one is the Direct VPC minimum), and
			// the plan agrees with Blocks and Usable.
			p := netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), got.Prefix)
			if Blocks(p) != got.Blocks || Usable(p) != got.Usable {
				t.Errorf("plan capacity disagrees with Blocks/Usable of %v", p)
			}
			if got.Blocks < got.BlocksNeeded {
				t.Errorf("plan does not fit: %d < %d", got.Blocks, got.BlocksNeeded)
			}
			if got.Prefix < DirectVPCMinPrefix {
				smaller := netip.PrefixFrom(p.Addr(), got.Prefix+1)
				if Blocks(smaller) >= got.BlocksNeeded {
					t.Errorf("%v would have been enough", smaller)
				}
			}
			if tt.steps != nil && !slices.Equal(got.Steps, tt.steps) {
				t.Errorf("steps:\n  %s\nwant:\n  %s", strings.Join(got.Steps, "\n  "), strings.Join(tt.steps, "\n  "))
			}
			if len(got.Steps) < 3 {
				t.Errorf("too few steps: %q", got.Steps)
			}
		})
	}
}

func TestPlanSubnetErrors(t *testing.T) {
	tests := []struct {
		instances, workloads int
		overlap              bool
		want                 string
	}{
		{0, 1, false, "ipam: plan subnet: max instances must be at least 1, got 0"},
		{-3, 1, false, "ipam: plan subnet: max instances must be at least 1, got -3"},
		{1, 0, false, "ipam: plan subnet: workloads must be at least 1, got 0"},
		{1, -1, true, "ipam: plan subnet: workloads must be at least 1, got -1"},
		{8388601, 1, false, "ipam: plan subnet: 1 workload x 8388601 instances need more than the 1048575 /28 blocks a /8 subnet holds"},
		{4194300, 1, true, "ipam: plan subnet: 1 workload x 4194300 instances (with rollout overlap) need more than the 1048575 /28 blocks a /8 subnet holds"},
		{8, 1048576, false, "ipam: plan subnet: 1048576 workloads x 8 instances need more than the 1048575 /28 blocks a /8 subnet holds"},
		{math.MaxInt, math.MaxInt, true, fmt.Sprintf("ipam: plan subnet: %d workloads x %d instances (with rollout overlap) need more than the 1048575 /28 blocks a /8 subnet holds", math.MaxInt, math.MaxInt)},
	}
	for _, tt := range tests {
		got, err := PlanSubnet(tt.instances, tt.workloads, tt.overlap)
		if err == nil {
			t.Errorf("PlanSubnet(%d, %d, %v) = %+v, want error", tt.instances, tt.workloads, tt.overlap, got)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("PlanSubnet(%d, %d, %v) error = %q, want %q", tt.instances, tt.workloads, tt.overlap, err, tt.want)
		}
	}
}

// FuzzParsePrefix checks that whatever ParsePrefix accepts is an IPv4
// network address whose canonical text is exactly the input, and that
// every rejection is a *PrefixError naming the input.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "10.0.1.0/23", "0.0.0.0/0", "255.255.255.255/32", "::ffff:1.2.3.4/128", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			var pe *PrefixError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePrefix(%q) error %T is not a *PrefixError", s, err)
			}
			if pe.Input != s || pe.Reason == "" {
				t.Fatalf("ParsePrefix(%q) error = %+v", s, pe)
			}
			if p != (netip.Prefix{}) {
				t.Fatalf("ParsePrefix(%q) returned %v with an error", s, p)
			}
			// A misaligned but otherwise valid IPv4 prefix must get the
			// hint, and the hint must itself parse.
			if np, nerr := netip.ParsePrefix(s); nerr == nil && np.Addr().Is4() && np.Masked() != np {
				hint := np.Masked().String()
				if !strings.Contains(pe.Reason, "did you mean "+hint+"?") {
					t.Fatalf("ParsePrefix(%q) reason %q lacks hint %s", s, pe.Reason, hint)
				}
				if _, err := ParsePrefix(hint); err != nil {
					t.Fatalf("hint %s does not parse: %v", hint, err)
				}
			}
			return
		}
		if !p.IsValid() || !p.Addr().Is4() {
			t.Fatalf("ParsePrefix(%q) = %v, not an IPv4 prefix", s, p)
		}
		if p.String() != s {
			t.Fatalf("ParsePrefix(%q) = %v, does not round-trip", s, p)
		}
		if p.Masked() != p {
			t.Fatalf("ParsePrefix(%q) = %v has host bits set", s, p)
		}
		if Size(p) == 0 || !Contains(p, p) {
			t.Fatalf("ParsePrefix(%q) = %v is not usable by the rest of the package", s, p)
		}
	})
}

func BenchmarkFindFree(b *testing.B) {
	// 5000 used /28s spread over 10.0.0.0/8 with gaps too small for the
	// /24 asked for, shuffled so the sort is part of the cost, plus a few
	// large ranges the search must jump over.
	r := rand.New(rand.NewPCG(42, 42))
	base := netip.MustParseAddr("10.0.0.0")
	used := make([]netip.Prefix, 0, 5000)
	for i := range 4990 {
		used = append(used, netip.PrefixFrom(addrAt(base, i*64), 28))
	}
	for i := range 10 {
		used = append(used, netip.PrefixFrom(addrAt(base, 4990*64+i*65536), 16).Masked())
	}
	r.Shuffle(len(used), func(i, j int) { used[i], used[j] = used[j], used[i] })
	space := DirectVPCSpace
	want, ok := FindFree(space, used, 24)
	if !ok {
		b.Fatal("no free /24")
	}
	b.ReportAllocs()
	for b.Loop() {
		got, _ := FindFree(space, used, 24)
		if got != want {
			b.Fatalf("FindFree = %v, want %v", got, want)
		}
	}
}
