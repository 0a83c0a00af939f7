// Package egressmap draws an egress inventory: the projects, the Serverless VPC Access
// connectors and Direct VPC egress subnets in them, and the Cloud Run workloads that reach a
// VPC through them. It renders a Map as a Mermaid flowchart, a Graphviz DOT digraph, or one
// self-contained HTML report (inline CSS and SVG, nothing fetched when it is viewed) with the
// graph, per-subnet address usage bars, per-connector cost and use, the checks that stop
// each remaining workload, and the commands to run next.
//
// It knows nothing of Google Cloud's APIs: callers fill a Map (the cli package adapts its
// inventory). Every rendering is deterministic: the same Map gives the same bytes.
package egressmap

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// State is how a node stands; it picks the node's colour in every rendering.
type State string

// Workload states.
const (
	// Migrated: the workload uses Direct VPC egress.
	Migrated State = "migrated"
	// ToMigrate: the workload uses a connector and no check that could be run stops it.
	ToMigrate State = "to-migrate"
	// Blocked: the workload uses a connector and a check fails.
	Blocked State = "blocked"
	// NoVPC: the workload has no VPC access.
	NoVPC State = "no-vpc"
)

// Connector states.
const (
	// InUse: workloads use the connector.
	InUse State = "in-use"
	// Unused: no workload uses the connector, yet it runs (and is billed).
	Unused State = "unused"
	// Oversized: the connector runs more (or larger) instances than its traffic needs.
	Oversized State = "oversized"
	// NotReady: the connector is not READY (creating, updating, deleting or in error).
	NotReady State = "not-ready"
)

// Subnet states.
const (
	// Fits: the subnet holds its workloads at maximum scale with room for a rollout.
	Fits State = "fits"
	// Tight: the subnet holds its workloads at maximum scale, with little room for a rollout.
	Tight State = "tight"
	// RunsOut: the subnet's workloads at maximum scale need more addresses than it has.
	RunsOut State = "runs-out"
	// Candidate: no workload uses the subnet yet; it is where the next migrations go.
	Candidate State = "candidate"
)

// Missing: a connector or subnet that workloads name but that does not exist.
const Missing State = "missing"

// Map is an egress inventory to draw.
type Map struct {
	// Title heads every rendering, such as "Egress map of demo-project".
	Title string
	// Subtitle is a second line (regions read, when); empty for none.
	Subtitle string
	// Projects hold the nodes; a connector or subnet of another project than its users
	// (Shared VPC) sits in its own project.
	Projects []Project
	// Commands are the `runnet migrate` commands to run next, in order.
	Commands []Command
	// Findings are what needs attention, most severe first.
	Findings []Finding
	// Notes say what the map could not know (reads that failed, checks not run).
	Notes []string
}

// Project is one Google Cloud project and the nodes in it.
type Project struct {
	ID         string
	Connectors []Connector
	Subnets    []Subnet
	Workloads  []Workload
}

// Connector is a Serverless VPC Access connector.
type Connector struct {
	// Key names the connector uniquely (its full resource name); workloads point at it.
	Key          string
	Name         string
	Region       string
	Network      string // short name, "" when unknown
	APIState     string // READY, CREATING, ... ("" when it does not exist)
	MachineType  string
	MinInstances int
	MaxInstances int
	State        State // InUse, Unused, Oversized, NotReady or Missing
	// Use is what the connector costs and carries, where known.
	Use Use
	// Target is the Key of the subnet its workloads would move to, "" when none is known.
	Target string
}

// Use is what a connector costs and carries. A nil field is not known and is shown as
// "unknown", never as zero.
type Use struct {
	// MonthlyCost is what the connector's instances cost a month.
	MonthlyCost *Money
	// Instances is how many instances run now (connectors scale out, never in).
	Instances *int
	// ThroughputMbps is the traffic it carries (a recent peak or average, see Source).
	ThroughputMbps *float64
	// MonthlySavings is what moving its workloads to Direct VPC egress would save a month.
	MonthlySavings *Money
	// Source says where the figures come from (a pricing table, monitoring), "" if none.
	Source string
}

// Money is an amount in a currency (an ISO 4217 code such as USD).
type Money struct {
	Amount   float64
	Currency string
}

// String renders the amount with two decimals and its currency: "12.34 USD".
func (m Money) String() string {
	c := m.Currency
	if c == "" {
		c = "USD"
	}
	return strconv.FormatFloat(m.Amount, 'f', 2, 64) + " " + c
}

// Subnet is a subnet used (or to be used) by Direct VPC egress, with its address usage.
// Addresses count what Cloud Run reserves: 2 per instance, in /28 blocks of 16 per workload.
type Subnet struct {
	// Key names the subnet uniquely (its resource path); workloads point at it.
	Key     string
	Name    string
	Region  string
	Network string // short name, "" when unknown
	CIDR    string // "" when it does not exist
	// Size is the range's addresses; Usable those left after Google's four.
	Size   int
	Usable int
	// Blocks is the /28 blocks Cloud Run may reserve in it.
	Blocks int
	// ReservedIPs is the addresses reserved now (by anything).
	ReservedIPs int
	// MaxScaleIPs is what its workloads reserve at their maximum scale.
	MaxScaleIPs int
	// PlannedIPs is MaxScaleIPs plus what the workloads the Commands move here reserve at
	// maximum scale (equal to MaxScaleIPs when none move here).
	PlannedIPs int
	// RolloutIPs is PlannedIPs plus the blocks of its largest workload counted again: while
	// a workload rolls out, its old and new revisions hold addresses at once.
	RolloutIPs int
	State      State // Fits, Tight, RunsOut, Candidate or Missing
}

// Workload is a Cloud Run service, job or worker pool.
type Workload struct {
	// Key names the workload uniquely (project, region and reference).
	Key      string
	Kind     string // service, job or workerpool
	Name     string
	Ref      string // as runnet names it: NAME, job/NAME or workerpool/NAME
	Region   string
	Mode     string // none, connector or direct
	Egress   string // private-ranges-only, all-traffic, or "" without VPC
	Via      string // Key of its connector or subnet, "" with no VPC
	MaxScale int    // instances at maximum scale
	State    State  // Migrated, ToMigrate, Blocked or NoVPC
	// Failing are the checks that stop its move to Direct VPC egress (Blocked), or warn.
	Failing []Check
	// Unchecked names the checks that could not be run from what was read.
	Unchecked []string
}

// Check is a preflight check's verdict on a workload's move.
type Check struct {
	Name    string
	Status  string // fail or warn
	Message string
	Hint    string
}

// Command is a `runnet migrate` command to run next.
type Command struct {
	// Connector is the Key of the connector the workloads leave.
	Connector string
	// Workloads are the Keys of the workloads it moves.
	Workloads []string
	// Why says what it does, for people.
	Why string
	// Line is the command; DryRun the same with --dry-run (checks and plan, no change).
	Line   string
	DryRun string
}

// Finding is something that needs attention.
type Finding struct {
	Severity string // error, warning or info
	Kind     string
	Message  string
}

// Validate reports a Map that cannot be drawn faithfully: duplicate keys, or a workload or
// connector pointing at a node that is not in the Map.
func (m Map) Validate() error {
	seen := map[string]string{}
	add := func(kind, key string) error {
		if key == "" {
			return fmt.Errorf("egressmap: a %s has no key", kind)
		}
		if k, ok := seen[key]; ok {
			return fmt.Errorf("egressmap: %s %q has the key of a %s", kind, key, k)
		}
		seen[key] = kind
		return nil
	}
	for _, p := range m.Projects {
		for _, c := range p.Connectors {
			if err := add("connector", c.Key); err != nil {
				return err
			}
		}
		for _, s := range p.Subnets {
			if err := add("subnet", s.Key); err != nil {
				return err
			}
		}
		for _, w := range p.Workloads {
			if err := add("workload", w.Key); err != nil {
				return err
			}
		}
	}
	for _, p := range m.Projects {
		for _, w := range p.Workloads {
			if k := seen[w.Via]; w.Via != "" && k != "connector" && k != "subnet" {
				return fmt.Errorf("egressmap: workload %q uses %q, which is not a connector or subnet of the map", w.Key, w.Via)
			}
		}
		for _, c := range p.Connectors {
			if c.Target != "" && seen[c.Target] != "subnet" {
				return fmt.Errorf("egressmap: connector %q targets %q, which is not a subnet of the map", c.Key, c.Target)
			}
		}
	}
	for _, c := range m.Commands {
		for _, w := range c.Workloads {
			if seen[w] != "workload" {
				return fmt.Errorf("egressmap: command %q moves %q, which is not a workload of the map", c.Line, w)
			}
		}
	}
	return nil
}

// Sorted returns a copy of m with projects, and the nodes in each, in a stable order:
// projects by ID, connectors and subnets by region then name, workloads by region, kind
// order (services, jobs, worker pools) then name. Commands, findings and notes keep their
// order.
func (m Map) Sorted() Map {
	out := m
	out.Projects = slices.Clone(m.Projects)
	slices.SortStableFunc(out.Projects, func(a, b Project) int { return cmp.Compare(a.ID, b.ID) })
	for i := range out.Projects {
		p := &out.Projects[i]
		p.Connectors = slices.Clone(p.Connectors)
		slices.SortStableFunc(p.Connectors, func(a, b Connector) int {
			return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key))
		})
		p.Subnets = slices.Clone(p.Subnets)
		slices.SortStableFunc(p.Subnets, func(a, b Subnet) int {
			return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key))
		})
		p.Workloads = slices.Clone(p.Workloads)
		slices.SortStableFunc(p.Workloads, func(a, b Workload) int {
			return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
				cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key))
		})
	}
	return out
}

func kindRank(k string) int {
	switch k {
	case "service":
		return 0
	case "job":
		return 1
	case "workerpool":
		return 2
	}
	return 3
}

// Counts is how many workloads are in each state, and connectors in use or not.
type Counts struct {
	Workloads, Migrated, ToMigrate, Blocked, NoVPC int
	Connectors, Unused, Subnets, Proposed          int // Proposed: candidate subnets
}

// Count tallies the map.
func (m Map) Count() Counts {
	var c Counts
	for _, p := range m.Projects {
		c.Connectors += len(p.Connectors)
		for _, s := range p.Subnets {
			if s.State == Candidate {
				c.Proposed++
			} else {
				c.Subnets++
			}
		}
		for _, cn := range p.Connectors {
			if cn.State == Unused {
				c.Unused++
			}
		}
		for _, w := range p.Workloads {
			c.Workloads++
			switch w.State {
			case Migrated:
				c.Migrated++
			case ToMigrate:
				c.ToMigrate++
			case Blocked:
				c.Blocked++
			case NoVPC:
				c.NoVPC++
			}
		}
	}
	return c
}

// stateLabel is a state for people.
func stateLabel(s State) string {
	switch s {
	case Migrated:
		return "on Direct VPC"
	case ToMigrate:
		return "to migrate"
	case Blocked:
		return "blocked by a check"
	case NoVPC:
		return "no VPC"
	case InUse:
		return "in use"
	case Unused:
		return "unused (billed)"
	case Oversized:
		return "oversized"
	case NotReady:
		return "not ready"
	case Fits:
		return "fits"
	case Tight:
		return "tight"
	case RunsOut:
		return "would run out"
	case Candidate:
		return "candidate"
	case Missing:
		return "missing"
	}
	return string(s)
}

// percent is part of whole as a whole percentage, rounded up (0 when whole is 0 and part 0).
func percent(part, whole int) int {
	switch {
	case part <= 0:
		return 0
	case whole <= 0:
		return 100 * part
	}
	return (part*100 + whole - 1) / whole
}

// oneLine collapses whitespace runs (newlines included) to single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
