package ipam

import (
	"fmt"
	"math/bits"
)

// SubnetPlan is the result of PlanSubnet: the smallest subnet that Direct
// VPC egress workloads fit in at their maximum scale, and the arithmetic
// behind it, printable line by line (Steps) or as JSON.
type SubnetPlan struct {
	// MaxInstances is the maximum instance count of each workload.
	MaxInstances int `json:"maxInstances"`
	// Workloads is how many workloads share the subnet.
	Workloads int `json:"workloads"`
	// RolloutOverlap is set when old and new revisions are counted as
	// holding addresses at the same time.
	RolloutOverlap bool `json:"rolloutOverlap"`
	// IPsNeeded is the addresses the instances themselves use:
	// DirectVPCIPsPerInstance x MaxInstances x Workloads (x 2 with
	// RolloutOverlap).
	IPsNeeded int `json:"ipsNeeded"`
	// BlocksNeeded is the /28 blocks Cloud Run reserves for them. Each
	// revision of each workload rounds up to whole blocks on its own, so
	// BlocksNeeded x DirectVPCBlockSize can exceed IPsNeeded.
	BlocksNeeded int `json:"blocksNeeded"`
	// Prefix is the chosen prefix length, from DirectVPCMinPrefix down to
	// MinSubnetPrefix.
	Prefix int `json:"prefix"`
	// Usable is the usable addresses of a subnet with that prefix length
	// (its size less ReservedPerSubnet).
	Usable uint64 `json:"usable"`
	// Blocks is the /28 blocks a subnet with that prefix length holds (see
	// Blocks); it is at least BlocksNeeded.
	Blocks int `json:"blocks"`
	// Steps is the arithmetic, one human-readable line per step.
	Steps []string `json:"steps"`
}

// sizeAt, usableAt and blocksAt give Size, Usable and Blocks for any IPv4
// prefix of length b.
func sizeAt(b int) uint64   { return 1 << (32 - b) }
func usableAt(b int) uint64 { return sizeAt(b) - ReservedPerSubnet }
func blocksAt(b int) int    { return int(usableAt(b) / DirectVPCBlockSize) }

// PlanSubnet sizes a subnet for Direct VPC egress. Each of workloads
// workloads scales to maxInstances instances and reserves its own
// BlocksForInstances(maxInstances) blocks; with rolloutOverlap the old and
// the new revision of a workload hold addresses at once, so its blocks are
// doubled. The plan picks the longest prefix length whose Blocks holds
// them all, never longer than /DirectVPCMinPrefix nor shorter than
// /MinSubnetPrefix.
//
// It returns an error when maxInstances or workloads is below 1, or when
// even a /MinSubnetPrefix subnet is too small.
func PlanSubnet(maxInstances, workloads int, rolloutOverlap bool) (SubnetPlan, error) {
	if maxInstances < 1 {
		return SubnetPlan{}, fmt.Errorf("ipam: plan subnet: max instances must be at least 1, got %d", maxInstances)
	}
	if workloads < 1 {
		return SubnetPlan{}, fmt.Errorf("ipam: plan subnet: workloads must be at least 1, got %d", workloads)
	}
	factor := 1
	if rolloutOverlap {
		factor = 2
	}
	perRevision := BlocksForInstances(maxInstances)
	largest := blocksAt(MinSubnetPrefix)

	// Multiply in uint64 and check for overflow: the inputs are unbounded
	// ints but anything above largest is rejected anyway.
	hi, need := bits.Mul64(uint64(perRevision)*uint64(factor), uint64(workloads))
	if hi != 0 || need > uint64(largest) {
		return SubnetPlan{}, fmt.Errorf(
			"ipam: plan subnet: %s x %s%s need more than the %d /28 blocks a /%d subnet holds",
			plural(workloads, "workload"), plural(maxInstances, "instance"), overlapNote(rolloutOverlap),
			largest, MinSubnetPrefix)
	}

	plan := SubnetPlan{
		MaxInstances:   maxInstances,
		Workloads:      workloads,
		RolloutOverlap: rolloutOverlap,
		// need <= largest, so the IP count fits an int everywhere.
		IPsNeeded:    DirectVPCIPsPerInstance * maxInstances * factor * workloads,
		BlocksNeeded: int(need),
	}

	perRevisionIPs := DirectVPCIPsPerInstance * maxInstances
	plan.addf("%d IPs x %s = %d IPs per revision", DirectVPCIPsPerInstance, plural(maxInstances, "instance"), perRevisionIPs)
	plan.addf("%d IPs in /28 blocks = %s = %d addresses per revision", perRevisionIPs, plural(perRevision, "block"), perRevision*DirectVPCBlockSize)
	perWorkload := perRevision * factor
	if rolloutOverlap {
		plan.addf("%s x 2 (rollout overlap: old and new revisions hold IPs at once) = %s per workload", plural(perRevision, "block"), plural(perWorkload, "block"))
	}
	if workloads > 1 {
		plan.addf("%s x %d workloads = %s = %d addresses", plural(perWorkload, "block"), workloads, plural(plan.BlocksNeeded, "block"), plan.BlocksNeeded*DirectVPCBlockSize)
	}

	for b := DirectVPCMinPrefix; b >= MinSubnetPrefix; b-- {
		if blocksAt(b) < plan.BlocksNeeded {
			continue
		}
		if b < DirectVPCMinPrefix {
			// Show why the next smaller size is not enough.
			plan.addf("%s < %s needed", describe(b+1), plural(plan.BlocksNeeded, "block"))
		}
		plan.addf("%s >= %s needed", describe(b), plural(plan.BlocksNeeded, "block"))
		if b == DirectVPCMinPrefix {
			plan.addf("minimum for Direct VPC is /%d", DirectVPCMinPrefix)
		}
		plan.Prefix, plan.Usable, plan.Blocks = b, usableAt(b), blocksAt(b)
		return plan, nil
	}
	// Unreachable: need <= blocksAt(MinSubnetPrefix) was checked above.
	return SubnetPlan{}, fmt.Errorf("ipam: plan subnet: no prefix from /%d to /%d holds %s", DirectVPCMinPrefix, MinSubnetPrefix, plural(plan.BlocksNeeded, "block"))
}

func (p *SubnetPlan) addf(format string, args ...any) {
	p.Steps = append(p.Steps, fmt.Sprintf(format, args...))
}

// describe renders the capacity of a subnet with prefix length b, e.g.
// "/23 has 508 usable addresses (512 - 4 reserved) = 31 blocks".
func describe(b int) string {
	return fmt.Sprintf("/%d has %d usable addresses (%d - %d reserved) = %s",
		b, usableAt(b), sizeAt(b), ReservedPerSubnet, plural(blocksAt(b), "block"))
}

func overlapNote(rolloutOverlap bool) string {
	if rolloutOverlap {
		return " (with rollout overlap)"
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
