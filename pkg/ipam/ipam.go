// Package ipam is the IPv4 CIDR arithmetic runnet needs to reason about
// Google Cloud subnets, Serverless VPC Access connector ranges and Cloud Run
// Direct VPC egress address reservations.
//
// Everything here is pure: no I/O, no clocks, no global state beyond the
// read-only address-space tables. Only IPv4 is supported; functions that
// take a netip.Prefix treat an invalid or non-IPv4 prefix as empty (size 0,
// overlapping and containing nothing) rather than panicking.
//
// The platform numbers live in named constants, each with the document it
// comes from, so that a change on Google's side is a one-line edit.
package ipam

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Platform numbers. Each one is a fact about Google Cloud that can change;
// keep the source in its comment.
const (
	// ReservedPerSubnet is how many addresses Google Cloud reserves in every
	// primary IPv4 subnet range: the network address, the default gateway
	// (network + 1), the second-to-last address and the broadcast address.
	// Source: VPC docs, "Subnets" (reserved IPv4 addresses in primary ranges).
	ReservedPerSubnet = 4

	// DirectVPCIPsPerInstance is how many subnet addresses each Cloud Run
	// instance holds when it uses Direct VPC egress (4 before March 2025).
	// Source: Cloud Run docs, "Direct VPC egress with a VPC network"
	// (IP address allocation).
	DirectVPCIPsPerInstance = 2

	// DirectVPCBlockSize is the granularity in which Cloud Run reserves
	// addresses for Direct VPC egress: /28 blocks of 16 addresses.
	// Source: Cloud Run docs, "Direct VPC egress with a VPC network".
	DirectVPCBlockSize = 16

	// DirectVPCMinPrefix is the longest prefix a subnet used for Direct VPC
	// egress may have: its primary IPv4 range must be /26 or larger.
	// Source: Cloud Run docs, "Direct VPC egress with a VPC network"
	// (limitations: subnet size).
	DirectVPCMinPrefix = 26

	// ConnectorPrefix is the exact prefix length of a Serverless VPC Access
	// connector range (ip_cidr_range, or the /28 subnet given instead).
	// Source: VPC docs, "Serverless VPC Access" (create a connector).
	ConnectorPrefix = 28

	// MinSubnetPrefix is the shortest (largest) prefix length a Compute
	// Engine subnetwork primary IPv4 range may have.
	// Source: VPC docs, "Subnets" (IPv4 subnet ranges: valid sizes /8 to /29).
	MinSubnetPrefix = 8

	// MaxSubnetPrefix is the longest (smallest) prefix length a Compute
	// Engine subnetwork primary IPv4 range may have.
	// Source: VPC docs, "Subnets" (IPv4 subnet ranges: valid sizes /8 to /29).
	MaxSubnetPrefix = 29
)

// Address spaces.
var (
	// RFC1918 holds the private IPv4 ranges of RFC 1918, in address order.
	// Source: RFC 1918 section 3; listed as valid Direct VPC egress subnet
	// ranges in Cloud Run docs, "Direct VPC egress with a VPC network".
	RFC1918 = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}

	// RFC6598 is the shared address space of RFC 6598, valid for Direct VPC
	// egress subnets.
	// Source: Cloud Run docs, "Direct VPC egress with a VPC network".
	RFC6598 = netip.MustParsePrefix("100.64.0.0/10")

	// ClassE is the former class E space, valid for Direct VPC egress
	// subnets.
	// Source: Cloud Run docs, "Direct VPC egress with a VPC network".
	ClassE = netip.MustParsePrefix("240.0.0.0/4")

	// DirectVPCSpace is every range a Direct VPC egress subnet may be carved
	// from, in the order a free-range search should prefer them: RFC 1918
	// first, then RFC 6598, then class E.
	DirectVPCSpace = []netip.Prefix{
		RFC1918[0], RFC1918[1], RFC1918[2], RFC6598, ClassE,
	}
)

// PrefixError reports an IPv4 CIDR range that was rejected. Input is the
// text (or the canonical form of the prefix) that was checked and Reason a
// phrase that completes a sentence starting with it, such as
// "is not a network address (did you mean 10.0.0.0/23?)", so callers can
// build their own API-shaped messages from the two parts.
type PrefixError struct {
	// Input is the range as the caller gave it.
	Input string
	// Reason says what is wrong, as a predicate of Input.
	Reason string
	// Err is the underlying parse error, if any.
	Err error
}

// Error returns Input followed by Reason, for example
// "10.0.1.0/23 is not a network address (did you mean 10.0.0.0/23?)".
// Input is quoted when it is empty or contains spaces or unprintable
// characters.
func (e *PrefixError) Error() string {
	return displayInput(e.Input) + " " + e.Reason
}

// Unwrap returns the underlying parse error, if any.
func (e *PrefixError) Unwrap() error { return e.Err }

func displayInput(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"") || strconv.Quote(s) != `"`+s+`"` {
		return strconv.Quote(s)
	}
	return s
}

// ParsePrefix parses s strictly as an IPv4 CIDR range in canonical
// "a.b.c.d/n" form: no IPv6 or IPv4-in-IPv6 forms, no zones, no leading
// zeros, no surrounding spaces, and the host bits must be zero. Any valid
// prefix length 0..32 is accepted; use ValidateSubnetRange and friends for
// platform limits. Errors are of type *PrefixError.
func ParsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, &PrefixError{Input: s, Reason: "is not a CIDR range: empty"}
	}
	if !strings.Contains(s, "/") {
		return netip.Prefix{}, &PrefixError{Input: s, Reason: "is not a CIDR range: missing /prefix-length"}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, &PrefixError{Input: s, Reason: "is not a CIDR range", Err: err}
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, &PrefixError{Input: s, Reason: "is not an IPv4 CIDR range"}
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, &PrefixError{
			Input:  s,
			Reason: fmt.Sprintf("is not a network address (did you mean %s?)", m),
		}
	}
	// netip already rejects leading zeros and signs; this guards the
	// round-trip promise against any other alternative spelling.
	if c := p.String(); c != s {
		return netip.Prefix{}, &PrefixError{
			Input:  s,
			Reason: fmt.Sprintf("is not in canonical form (did you mean %s?)", c),
		}
	}
	return p, nil
}

// MustParsePrefix is like ParsePrefix but panics on error. It is meant for
// constants in tests and tables.
func MustParsePrefix(s string) netip.Prefix {
	p, err := ParsePrefix(s)
	if err != nil {
		panic(fmt.Sprintf("ipam.MustParsePrefix: %v", err))
	}
	return p
}

// ValidateSubnetRange checks that p can be the primary IPv4 range of a
// Compute Engine subnetwork: a valid IPv4 network address with a prefix
// length from MinSubnetPrefix to MaxSubnetPrefix. Errors are of type
// *PrefixError.
func ValidateSubnetRange(p netip.Prefix) error {
	if err := validIPv4(p); err != nil {
		return err
	}
	if p.Bits() < MinSubnetPrefix || p.Bits() > MaxSubnetPrefix {
		return &PrefixError{
			Input:  p.String(),
			Reason: fmt.Sprintf("is not a valid subnet range: the prefix length must be from /%d to /%d", MinSubnetPrefix, MaxSubnetPrefix),
		}
	}
	return nil
}

// ValidateDirectVPCSubnet checks that p can be the primary range of a
// subnet used by Direct VPC egress: a valid subnet range (see
// ValidateSubnetRange), /DirectVPCMinPrefix or larger, and inside RFC 1918,
// RFC 6598 or 240.0.0.0/4. Errors are of type *PrefixError.
func ValidateDirectVPCSubnet(p netip.Prefix) error {
	if err := ValidateSubnetRange(p); err != nil {
		return err
	}
	if p.Bits() > DirectVPCMinPrefix {
		return &PrefixError{
			Input:  p.String(),
			Reason: fmt.Sprintf("is too small for Direct VPC egress: the subnet must be /%d or larger", DirectVPCMinPrefix),
		}
	}
	if !AllowedForDirectVPC(p) {
		return &PrefixError{
			Input:  p.String(),
			Reason: fmt.Sprintf("is not allowed for Direct VPC egress: it must be within RFC 1918, %s or %s", RFC6598, ClassE),
		}
	}
	return nil
}

// ValidateConnectorRange checks that p can be a Serverless VPC Access
// connector range: a valid IPv4 network address of exactly
// /ConnectorPrefix. Errors are of type *PrefixError.
func ValidateConnectorRange(p netip.Prefix) error {
	if err := validIPv4(p); err != nil {
		return err
	}
	if p.Bits() != ConnectorPrefix {
		return &PrefixError{
			Input:  p.String(),
			Reason: fmt.Sprintf("is not a valid connector range: it must be a /%d", ConnectorPrefix),
		}
	}
	return nil
}

func validIPv4(p netip.Prefix) error {
	switch {
	case !p.IsValid():
		return &PrefixError{Input: "", Reason: "is not a valid CIDR range"}
	case !p.Addr().Is4():
		return &PrefixError{Input: p.String(), Reason: "is not an IPv4 CIDR range"}
	case p.Masked() != p:
		return &PrefixError{
			Input:  p.String(),
			Reason: fmt.Sprintf("is not a network address (did you mean %s?)", p.Masked()),
		}
	}
	return nil
}

// is4 reports whether p is a valid IPv4 prefix.
func is4(p netip.Prefix) bool { return p.IsValid() && p.Addr().Is4() }

// bounds returns the first and last addresses of IPv4 prefix p as integers.
// The caller must check is4(p).
func bounds(p netip.Prefix) (first, last uint64) {
	a := p.Masked().Addr().As4()
	first = uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
	return first, first + Size(p) - 1
}

// addrFrom converts an integer below 2^32 back to an IPv4 address.
func addrFrom(v uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Overlaps reports whether IPv4 prefixes a and b share any address. Prefixes
// that touch (one ends right before the other begins) do not overlap. An
// invalid or non-IPv4 prefix overlaps nothing.
func Overlaps(a, b netip.Prefix) bool {
	return is4(a) && is4(b) && a.Overlaps(b)
}

// Contains reports whether every address of inner is in outer. A prefix
// contains itself. An invalid or non-IPv4 prefix contains nothing and is
// contained in nothing.
func Contains(outer, inner netip.Prefix) bool {
	return is4(outer) && is4(inner) && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// Size returns the number of addresses in IPv4 prefix p (2^(32-bits)), or 0
// for an invalid or non-IPv4 prefix.
func Size(p netip.Prefix) uint64 {
	if !is4(p) {
		return 0
	}
	return 1 << (32 - p.Bits())
}

// Usable returns the addresses of p that instances can get once Google
// Cloud has taken its ReservedPerSubnet addresses, or 0 when p has no more
// than that.
func Usable(p netip.Prefix) uint64 {
	if s := Size(p); s > ReservedPerSubnet {
		return s - ReservedPerSubnet
	}
	return 0
}

// FirstHost returns the address Google Cloud uses as the subnet's default
// gateway: the network address plus one. It returns the zero Addr for an
// invalid or non-IPv4 prefix, or one with fewer than two addresses (/32).
func FirstHost(p netip.Prefix) netip.Addr {
	if Size(p) < 2 {
		return netip.Addr{}
	}
	return p.Masked().Addr().Next()
}

// AllowedForDirectVPC reports whether p lies wholly within a range Direct
// VPC egress subnets may use: RFC 1918, RFC 6598 or 240.0.0.0/4. It does
// not check the size; see ValidateDirectVPCSubnet for that.
func AllowedForDirectVPC(p netip.Prefix) bool {
	return within(DirectVPCSpace, p)
}

// IsPrivate reports whether p lies wholly within RFC 1918, which is what
// egress "private-ranges-only" routes into the VPC.
func IsPrivate(p netip.Prefix) bool {
	return within(RFC1918, p)
}

func within(spaces []netip.Prefix, p netip.Prefix) bool {
	for _, s := range spaces {
		if Contains(s, p) {
			return true
		}
	}
	return false
}

// BlocksForIPs returns how many DirectVPCBlockSize blocks hold ips
// addresses: ceil(ips / DirectVPCBlockSize), and 0 when ips <= 0.
func BlocksForIPs(ips int) int {
	if ips <= 0 {
		return 0
	}
	n := ips / DirectVPCBlockSize
	if ips%DirectVPCBlockSize != 0 {
		n++
	}
	return n
}

// BlocksForInstances returns how many blocks Cloud Run reserves for one
// revision scaled to instances instances:
// BlocksForIPs(instances * DirectVPCIPsPerInstance), computed without
// overflow. It returns 0 when instances <= 0.
func BlocksForInstances(instances int) int {
	if instances <= 0 {
		return 0
	}
	// (16q + r) * k IPs = q*k blocks + ceil(r*k / 16) blocks; q*k cannot
	// overflow while k < 16.
	q, r := instances/DirectVPCBlockSize, instances%DirectVPCBlockSize
	return q*DirectVPCIPsPerInstance + BlocksForIPs(r*DirectVPCIPsPerInstance)
}

// Blocks returns how many /28 blocks Cloud Run may reserve in subnet p,
// defined as floor(Usable(p) / DirectVPCBlockSize): a /28 gives 0, a /27
// 1, a /26 3 and a /24 15.
//
// Assumption: Cloud Run's placement of its blocks inside the range is not
// documented, so Blocks counts usable addresses, not aligned /28s. For /27
// and larger ranges the result is one more than the number of aligned /28s
// that hold no reserved address (the first and last aligned /28 each hold
// two of the ReservedPerSubnet addresses).
func Blocks(p netip.Prefix) int {
	return int(Usable(p) / DirectVPCBlockSize)
}

// Free returns the addresses of subnet p still free for Direct VPC egress
// when reservedBlocks blocks are taken: (Blocks(p) - reservedBlocks) *
// DirectVPCBlockSize, never below 0.
func Free(p netip.Prefix, reservedBlocks int) int {
	if reservedBlocks < 0 {
		reservedBlocks = 0
	}
	free := Blocks(p) - reservedBlocks
	if free <= 0 {
		return 0
	}
	return free * DirectVPCBlockSize
}
