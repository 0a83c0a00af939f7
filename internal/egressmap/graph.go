package egressmap

import (
	"fmt"
	"strconv"
	"strings"
)

// node kinds.
const (
	kindConnector = "connector"
	kindSubnet    = "subnet"
	kindWorkload  = "workload"
)

// graph is a Map as nodes and edges, with the stable ids every rendering uses.
type graph struct {
	m        Map // sorted
	projects []gproject
	edges    []gedge
	byKey    map[string]*gnode
}

type gproject struct {
	id    string
	name  string
	nodes []*gnode // connectors, subnets, then workloads
}

type gnode struct {
	id      string
	kind    string
	key     string
	project string
	state   State
	title   string // first line
	detail  string // second line
	tooltip string

	connector *Connector
	subnet    *Subnet
	workload  *Workload
}

type gedge struct {
	from, to *gnode
	label    string
	mode     string // connector, direct, or "next" for a planned move
}

// buildGraph sorts m and turns it into nodes and edges. It assumes m.Validate() passed.
func buildGraph(m Map) *graph {
	m = m.Sorted()
	g := &graph{m: m, byKey: map[string]*gnode{}}
	ids := map[string]bool{}
	uniq := func(base string) string {
		id := base
		for i := 2; ids[id]; i++ {
			id = base + "_" + strconv.Itoa(i)
		}
		ids[id] = true
		return id
	}
	for pi := range m.Projects {
		p := &m.Projects[pi]
		gp := gproject{id: uniq("p_" + sanitizeID(p.ID)), name: p.ID}
		for i := range p.Connectors {
			c := &p.Connectors[i]
			n := &gnode{id: uniq("c_" + sanitizeID(p.ID+"_"+c.Region+"_"+c.Name)), kind: kindConnector, key: c.Key,
				project: p.ID, state: c.State, title: c.Name, connector: c}
			n.detail, n.tooltip = connectorLabel(c), c.Key
			gp.nodes = append(gp.nodes, n)
		}
		for i := range p.Subnets {
			s := &p.Subnets[i]
			n := &gnode{id: uniq("s_" + sanitizeID(p.ID+"_"+s.Region+"_"+s.Name)), kind: kindSubnet, key: s.Key,
				project: p.ID, state: s.State, title: s.Name, subnet: s}
			n.detail, n.tooltip = subnetLabel(s), s.Key
			gp.nodes = append(gp.nodes, n)
		}
		for i := range p.Workloads {
			w := &p.Workloads[i]
			name := w.Name
			if w.Kind != "" && w.Kind != "service" {
				name = w.Kind + "_" + w.Name
			}
			n := &gnode{id: uniq("w_" + sanitizeID(p.ID+"_"+w.Region+"_"+name)), kind: kindWorkload, key: w.Key,
				project: p.ID, state: w.State, title: w.Ref, workload: w}
			if n.title == "" {
				n.title = w.Name
			}
			n.detail, n.tooltip = workloadLabel(w), w.Key
			gp.nodes = append(gp.nodes, n)
		}
		for _, n := range gp.nodes {
			g.byKey[n.key] = n
		}
		g.projects = append(g.projects, gp)
	}
	// Edges: connectors and subnets to their workloads, then the planned moves, in node
	// order.
	for _, gp := range g.projects {
		for _, n := range gp.nodes {
			if n.workload == nil || n.workload.Via == "" {
				continue
			}
			from := g.byKey[n.workload.Via]
			if from == nil {
				continue
			}
			g.edges = append(g.edges, gedge{from: from, to: n, mode: n.workload.Mode, label: edgeLabel(n.workload)})
		}
	}
	moving := map[string]int{}
	for _, c := range m.Commands {
		moving[c.Connector] += len(c.Workloads)
	}
	for _, gp := range g.projects {
		for _, n := range gp.nodes {
			if n.connector == nil || n.connector.Target == "" {
				continue
			}
			to := g.byKey[n.connector.Target]
			if to == nil {
				continue
			}
			label := "next: migrate"
			if k := moving[n.key]; k > 0 {
				label = fmt.Sprintf("next: migrate %d", k)
			}
			g.edges = append(g.edges, gedge{from: n, to: to, mode: "next", label: label})
		}
	}
	return g
}

// sanitizeID keeps letters and digits and turns every other run of characters into one "_".
func sanitizeID(s string) string {
	var b strings.Builder
	under := false
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
			continue
		}
		if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.Trim(b.String(), "_")
}

func connectorLabel(c *Connector) string {
	if c.State == Missing {
		return "connector · missing"
	}
	parts := []string{"connector"}
	if c.APIState != "" {
		parts = append(parts, c.APIState)
	}
	if c.MachineType != "" {
		parts = append(parts, fmt.Sprintf("%s ×%d–%d", c.MachineType, c.MinInstances, c.MaxInstances))
	}
	switch c.State {
	case Unused, Oversized:
		parts = append(parts, stateLabel(c.State))
	}
	return strings.Join(parts, " · ")
}

func subnetLabel(s *Subnet) string {
	switch s.State {
	case Missing:
		return "subnet · missing"
	case Candidate:
		return fmt.Sprintf("subnet %s · candidate, %d blocks", s.CIDR, s.Blocks)
	}
	label := fmt.Sprintf("subnet %s · %d/%d blocks at max scale", s.CIDR, s.MaxScaleIPs/blockSize, s.Blocks)
	switch s.State {
	case Tight, RunsOut:
		label += " · " + stateLabel(s.State)
	}
	return label
}

// blockSize is the addresses of one /28 block.
const blockSize = 16

func workloadLabel(w *Workload) string {
	parts := []string{w.Kind}
	if w.MaxScale > 0 {
		parts = append(parts, fmt.Sprintf("max %d", w.MaxScale))
	}
	parts = append(parts, stateLabel(w.State))
	return strings.Join(parts, " · ")
}

func edgeLabel(w *Workload) string {
	if w.Egress == "" {
		return w.Mode
	}
	return w.Mode + " · " + w.Egress
}
