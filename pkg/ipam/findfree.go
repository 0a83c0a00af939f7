package ipam

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
)

// interval is an inclusive range of IPv4 addresses held as integers.
type interval struct{ lo, hi uint64 }

// mergeIntervals turns the IPv4 prefixes in used into sorted, disjoint,
// non-adjacent intervals. Invalid and non-IPv4 prefixes are ignored. The
// input slice is not modified.
func mergeIntervals(used []netip.Prefix) []interval {
	iv := make([]interval, 0, len(used))
	for _, p := range used {
		if !is4(p) {
			continue
		}
		lo, hi := bounds(p)
		iv = append(iv, interval{lo, hi})
	}
	slices.SortFunc(iv, func(a, b interval) int { return cmp.Compare(a.lo, b.lo) })
	out := iv[:0]
	for _, v := range iv {
		if n := len(out); n > 0 && v.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, v.hi)
			continue
		}
		out = append(out, v)
	}
	return out
}

// FindFree returns the first prefix of length bits that lies inside one of
// the space prefixes, is aligned on its own size, and overlaps nothing in
// used. The space prefixes are scanned in the order given, each from its
// lowest address up, so callers control preference (see DirectVPCSpace).
//
// Used ranges may overlap each other and come in any order; invalid and
// non-IPv4 entries in either slice are ignored, as are space prefixes
// smaller than the requested size. It reports false when bits is outside
// 0..32 or nothing fits.
//
// The cost is O((len(used) + len(space)) log len(used)): used is sorted and
// merged once, and the scan jumps from a conflict straight past the end of
// the range it hit instead of stepping one candidate at a time.
func FindFree(space []netip.Prefix, used []netip.Prefix, bits int) (netip.Prefix, bool) {
	if bits < 0 || bits > 32 {
		return netip.Prefix{}, false
	}
	taken := mergeIntervals(used)
	size := uint64(1) << (32 - bits)
	for _, s := range space {
		if !is4(s) || s.Bits() > bits {
			continue
		}
		// s is masked by bounds and s.Bits() <= bits, so first is a
		// multiple of size: every candidate below stays aligned.
		first, last := bounds(s)
		for c := first; c+size-1 <= last; {
			end := c + size - 1
			i := sort.Search(len(taken), func(i int) bool { return taken[i].hi >= c })
			if i == len(taken) || taken[i].lo > end {
				return netip.PrefixFrom(addrFrom(c), bits), true
			}
			// Conflict with taken[i]: the next candidate that can be free
			// is the first aligned one after it.
			next := taken[i].hi + 1
			c = (next + size - 1) / size * size
		}
	}
	return netip.Prefix{}, false
}
