package cloud

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// This file holds the checks of a range before something is created in it, and the creation
// of a subnet in a free range that survives a concurrent create taking the same range.

// RangeFacts converts ranges in use (NetworkRanges) into the domain's facts; space is where a
// free range is looked for in hints (nil: RFC 1918).
func RangeFacts(used []UsedRange, space []netip.Prefix) *egress.RangeFacts {
	f := &egress.RangeFacts{Used: []egress.UsedRange{}}
	for _, u := range used {
		f.Used = append(f.Used, egress.UsedRange{CIDR: u.Prefix.String(), Kind: u.Kind, Name: u.Name, Region: u.Region})
	}
	for _, s := range space {
		f.Space = append(f.Space, s.String())
	}
	return f
}

// RangeOverlapError is a range refused before anything was created because it overlaps a
// range in use in the network.
type RangeOverlapError struct {
	// Range is the range asked for.
	Range netip.Prefix
	// Network is the network's path.
	Network string
	// With is the range in use it overlaps.
	With egress.UsedRange
	// Free is the first free range of the same size, when there is one.
	Free netip.Prefix
}

func (e *RangeOverlapError) Error() string {
	msg := fmt.Sprintf("range %s overlaps %s in network %s", e.Range, e.With.Describe(), egress.ShortName(e.Network))
	if e.Free.IsValid() {
		msg += fmt.Sprintf("; the first free /%d is %s", e.Range.Bits(), e.Free)
	}
	return msg
}

// CheckRangeFree reads the ranges in use in network (a path in project), VPC-wide, and
// returns a *RangeOverlapError when p overlaps one of them. self names a subnet (in region)
// whose own range does not count (the subnet being created again), or connector a connector
// whose own range does not count; either may be empty. Warnings say what could not be
// checked.
func (c *Clients) CheckRangeFree(ctx context.Context, project, network string, p netip.Prefix, self, region, connector string) ([]string, error) {
	used, warnings, err := c.NetworkRanges(ctx, project, network)
	if err != nil {
		return warnings, err
	}
	facts := RangeFacts(used, nil)
	var others []egress.UsedRange
	for _, u := range facts.Used {
		if u.Kind == "connector" && u.Name == connector && u.Region == region {
			continue
		}
		others = append(others, u)
	}
	facts.Used = others
	if u, ok := facts.Overlap(p, self, region); ok {
		e := &RangeOverlapError{Range: p, Network: network, With: u}
		if free, ok := facts.FirstFree(p.Bits()); ok {
			e.Free = free
		}
		return warnings, e
	}
	return warnings, nil
}

// IsRangeConflict reports whether err is Compute's refusal of a range that overlaps another in
// the network ("Invalid IPCidrRange: ... conflicts with existing subnetwork ...", HTTP 400).
func IsRangeConflict(err error) bool {
	ge, ok := googleAPIError(err)
	return ok && ge.Code == http.StatusBadRequest && strings.Contains(ge.Message, "conflicts with")
}

// autoRangeAttempts bounds how often CreateSubnetAuto tries the next free range after the
// one it picked was taken meanwhile.
const autoRangeAttempts = 5

// CreateSubnetAuto creates spec's subnet in a free range of prefix bits in space: the first
// range that overlaps nothing in the network (VPC-wide) when it is read, or spec.IPCIDRRange
// when set (a range picked already from such a read). When Compute refuses the range because
// something took it meanwhile (two creates racing for the same free range), the ranges are
// read again and the next free one is tried, up to autoRangeAttempts times; taken, when set,
// hears of each range lost that way. It returns the subnet as created.
func (c *Clients) CreateSubnetAuto(ctx context.Context, spec SubnetSpec, space []netip.Prefix, prefix int, opts WaitOptions, taken func(lost, next netip.Prefix)) (*Subnet, error) {
	nref, err := egress.ParseNetworkRef(spec.Network, spec.Ref.Project)
	if err != nil {
		return nil, err
	}
	var lost []netip.Prefix
	for attempt := 1; ; attempt++ {
		if spec.IPCIDRRange == "" {
			used, _, err := c.NetworkRanges(ctx, nref.Project, nref.Path())
			if err != nil {
				return nil, err
			}
			prefixes := append([]netip.Prefix(nil), lost...)
			for _, u := range used {
				prefixes = append(prefixes, u.Prefix)
			}
			chosen, ok := ipam.FindFree(space, prefixes, prefix)
			if !ok {
				return nil, fmt.Errorf("no free /%d range left in network %s", prefix, nref.Name)
			}
			if len(lost) > 0 && taken != nil {
				taken(lost[len(lost)-1], chosen)
			}
			spec.IPCIDRRange = chosen.String()
		}
		s, err := c.CreateSubnet(ctx, spec, opts)
		if err == nil || !IsRangeConflict(err) || attempt >= autoRangeAttempts {
			return s, err
		}
		if p, perr := netip.ParsePrefix(spec.IPCIDRRange); perr == nil {
			lost = append(lost, p.Masked())
		}
		spec.IPCIDRRange = ""
	}
}
