package ipam

import (
	"fmt"
	"net/netip"
	"strings"
)

// Address spaces a free-range search (--range auto) may look in, by name (--space).
const (
	SpaceRFC1918 = "rfc1918"
	SpaceRFC6598 = "rfc6598"
	SpaceClassE  = "class-e"
	SpaceAll     = "all"
)

// SpaceNames lists the names Space accepts.
func SpaceNames() []string { return []string{SpaceRFC1918, SpaceRFC6598, SpaceClassE, SpaceAll} }

// DefaultAutoSpace is where a free range is looked for when no space is named: RFC 1918
// first (the ranges every network tool expects to be private), then RFC 6598, which Google
// recommends next against IP exhaustion (VPC docs, "Subnets", valid IPv4 ranges: RFC 6598
// shared address space is a valid subnet range; Cloud Run docs, "Direct VPC egress with a
// VPC network": "RFC 1918, RFC 6598 or class E").
var DefaultAutoSpace = []netip.Prefix{RFC1918[0], RFC1918[1], RFC1918[2], RFC6598}

// Space returns the prefixes a space name stands for, in search order: rfc1918 (10/8,
// 172.16/12, 192.168/16), rfc6598 (100.64/10), class-e (240/4) or all (the three, in that
// order); "" is DefaultAutoSpace. Class E is last everywhere: some operating systems and
// on-premises networks do not route it (VPC docs, "Subnets": 240.0.0.0/4 "Reserved for
// future use (Class E) ... Some operating systems don't support the use of this range").
func Space(name string) ([]netip.Prefix, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "":
		return DefaultAutoSpace, nil
	case SpaceRFC1918:
		return RFC1918, nil
	case SpaceRFC6598:
		return []netip.Prefix{RFC6598}, nil
	case SpaceClassE:
		return []netip.Prefix{ClassE}, nil
	case SpaceAll:
		return DirectVPCSpace, nil
	}
	return nil, fmt.Errorf("%q is not an address space; valid: %s", name, strings.Join(SpaceNames(), ", "))
}

// DescribeSpace names each prefix of space as a person would: "10.0.0.0/8 (RFC 1918)".
func DescribeSpace(space []netip.Prefix) []string {
	out := make([]string, 0, len(space))
	for _, p := range space {
		var what string
		switch {
		case within(RFC1918, p):
			what = "RFC 1918"
		case Contains(RFC6598, p):
			what = "RFC 6598"
		case Contains(ClassE, p):
			what = "class E"
		}
		if what != "" {
			out = append(out, p.String()+" ("+what+")")
		} else {
			out = append(out, p.String())
		}
	}
	return out
}
