package egressmap

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
)

//go:embed report.html.tmpl
var reportTemplate string

//go:embed report.css
var reportCSS string

var reportTmpl = template.Must(template.New("report").Parse(reportTemplate))

// WriteHTML writes m as one self-contained HTML page: the graph as inline SVG, then the
// commands to run next, the workloads still on a connector with the checks that stop them,
// each subnet's address usage as a bar, each connector's cost and use (unknown where not
// known), the findings and the notes. It has no script and loads nothing: CSS and SVG are
// inline. It follows the reader's colour scheme and prints on white.
func WriteHTML(w io.Writer, m Map) error {
	if err := m.Validate(); err != nil {
		return err
	}
	g := buildGraph(m)
	d := reportData{
		Title:    m.Title,
		Subtitle: m.Subtitle,
		Counts:   g.m.Count(),
		CSS:      template.CSS(reportCSS + stateCSS()),
		Graph:    renderSVG(g, m.Title),
		Findings: g.m.Findings,
		Notes:    g.m.Notes,
	}
	if d.Title == "" {
		d.Title = "Egress map"
	}
	used := map[State]bool{}
	for _, p := range g.projects {
		for _, n := range p.nodes {
			used[n.state] = true
		}
	}
	for _, s := range stateOrder { // the states the map shows
		if used[s] {
			d.Legend = append(d.Legend, legendItem{State: s, Label: stateLabel(s), Dashed: coloursOf(s).dashed})
		}
	}
	name := func(key string) string {
		if n := g.byKey[key]; n != nil {
			return n.title
		}
		return key
	}
	for _, c := range g.m.Commands {
		d.Commands = append(d.Commands, reportCommand{Why: c.Why, Line: c.Line, DryRun: c.DryRun})
	}
	users := map[string]int{} // connector key -> its workloads
	for _, p := range g.m.Projects {
		for _, w := range p.Workloads {
			users[w.Via]++
		}
	}
	targets := map[string]string{} // connector key -> subnet title
	for _, p := range g.m.Projects {
		for _, c := range p.Connectors {
			if c.Target != "" {
				targets[c.Key] = name(c.Target)
			}
		}
	}
	var sources []string
	for _, p := range g.m.Projects {
		for _, w := range p.Workloads {
			if w.Mode != "connector" {
				continue
			}
			d.Remaining = append(d.Remaining, reportWorkload{
				Key: w.Key, Ref: w.Ref, Project: p.ID, Region: w.Region, Connector: name(w.Via), Target: targets[w.Via],
				State: w.State, StateLabel: stateLabel(w.State), Failing: w.Failing, Unchecked: strings.Join(w.Unchecked, ", "),
			})
		}
		for _, s := range p.Subnets {
			d.Subnets = append(d.Subnets, reportSubnet{Subnet: s, Project: p.ID, StateLabel: stateLabel(s.State), Numbers: subnetNumbers(s), Bar: renderBar(s)})
		}
		for _, c := range p.Connectors {
			rc := reportConnector{Connector: c, Project: p.ID, StateLabel: stateLabel(c.State), Users: users[c.Key]}
			if c.State != Missing {
				rc.Bounds = fmt.Sprintf("%d–%d", c.MinInstances, c.MaxInstances)
			} else {
				rc.Bounds = "—"
			}
			if c.Use.Instances != nil {
				rc.Instances = strconv.Itoa(*c.Use.Instances)
			}
			if c.Use.ThroughputMbps != nil {
				rc.Throughput = strconv.FormatFloat(*c.Use.ThroughputMbps, 'f', -1, 64) + " Mbps"
			}
			if c.Use.MonthlyCost != nil {
				rc.Cost = c.Use.MonthlyCost.String()
			}
			if c.Use.MonthlySavings != nil {
				rc.Savings = c.Use.MonthlySavings.String()
			}
			if c.Use.Source != "" && !slices.Contains(sources, c.Use.Source) {
				sources = append(sources, c.Use.Source)
			}
			d.Connectors = append(d.Connectors, rc)
		}
	}
	d.CostSources = strings.Join(sources, "; ")
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, d); err != nil {
		return fmt.Errorf("render the report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

type reportData struct {
	Title, Subtitle string
	Counts          Counts
	CSS             template.CSS
	Graph           template.HTML
	Legend          []legendItem
	Commands        []reportCommand
	Remaining       []reportWorkload
	Subnets         []reportSubnet
	Connectors      []reportConnector
	CostSources     string
	Findings        []Finding
	Notes           []string
}

type legendItem struct {
	State  State
	Label  string
	Dashed bool
}

type reportCommand struct{ Why, Line, DryRun string }

type reportWorkload struct {
	Key, Ref, Project, Region, Connector, Target string
	State                                        State
	StateLabel                                   string
	Failing                                      []Check
	Unchecked                                    string
}

type reportSubnet struct {
	Subnet
	Project, StateLabel, Numbers string
	Bar                          template.HTML
}

type reportConnector struct {
	Connector
	Project, StateLabel, Bounds          string
	Instances, Throughput, Cost, Savings string // "" when unknown
	Users                                int
}

// subnetNumbers is a subnet's usage in words, each figure with its share of the usable
// addresses.
func subnetNumbers(s Subnet) string {
	if s.State == Missing {
		return "It does not exist, yet workloads name it."
	}
	share := func(ips int) string { return fmt.Sprintf("%d (%d%%)", ips, percent(ips, s.Usable)) }
	parts := []string{
		fmt.Sprintf("%d usable addresses of %d, %d blocks of 16", s.Usable, s.Size, s.Blocks),
		"reserved now " + share(s.ReservedIPs),
		"at max scale " + share(s.MaxScaleIPs),
	}
	if s.PlannedIPs != s.MaxScaleIPs {
		parts = append(parts, "after the planned migrations "+share(s.PlannedIPs))
	}
	parts = append(parts, "with a rollout's overlap "+share(s.RolloutIPs))
	return strings.Join(parts, " · ")
}

// stateCSS is the colours of every state as CSS: light, dark (prefers-color-scheme) and
// print (always light).
func stateCSS() string {
	var light, dark strings.Builder
	for _, s := range stateOrder {
		c, dc := coloursOf(s), darkPalette[s]
		v := "--" + string(s)
		fmt.Fprintf(&light, "%s-fill: %s; %s-stroke: %s; %s-text: %s;\n", v, c.fill, v, c.stroke, v, c.text)
		fmt.Fprintf(&dark, "%s-fill: %s; %s-stroke: %s; %s-text: %s;\n", v, dc.fill, v, dc.stroke, v, dc.text)
	}
	var b strings.Builder
	fmt.Fprintf(&b, ":root {\n%s}\n", light.String())
	fmt.Fprintf(&b, "@media (prefers-color-scheme: dark) { :root {\n%s} }\n", dark.String())
	fmt.Fprintf(&b, "@media print { :root {\n%s} }\n", light.String())
	for _, s := range stateOrder {
		v := "--" + string(s)
		fmt.Fprintf(&b, "svg.graph .state-%s rect { fill: var(%s-fill); stroke: var(%s-stroke); }\n", s, v, v)
		fmt.Fprintf(&b, "svg.graph .state-%s rect.mark { fill: var(%s-stroke); }\n", s, v)
		fmt.Fprintf(&b, "svg.graph .state-%s text { fill: var(%s-text); }\n", s, v)
		fmt.Fprintf(&b, ".badge.state-%s { background: var(%s-fill); border-color: var(%s-stroke); color: var(%s-text); }\n", s, v, v, v)
		if coloursOf(s).dashed {
			fmt.Fprintf(&b, "svg.graph .state-%s rect:not(.mark) { stroke-dasharray: 5 3; }\n", s)
		}
	}
	return b.String()
}

// darkPalette is each state's colours on a dark background.
var darkPalette = map[State]colours{
	Migrated:  {fill: "#12381f", stroke: "#51cf66", text: "#d3f9d8"},
	ToMigrate: {fill: "#3d2a00", stroke: "#ffa94d", text: "#fff3bf"},
	Blocked:   {fill: "#4a1414", stroke: "#ff6b6b", text: "#ffe3e3"},
	NoVPC:     {fill: "#25282e", stroke: "#868e96", text: "#dee2e6"},
	InUse:     {fill: "#0f2e4d", stroke: "#4dabf7", text: "#d0ebff"},
	Unused:    {fill: "#3a1646", stroke: "#da77f2", text: "#f3d9fa"},
	Oversized: {fill: "#2a1c5c", stroke: "#9775fa", text: "#e5dbff"},
	NotReady:  {fill: "#4a1414", stroke: "#ff6b6b", text: "#ffe3e3"},
	Fits:      {fill: "#083b2e", stroke: "#38d9a9", text: "#c3fae8"},
	Tight:     {fill: "#3d2a00", stroke: "#ffa94d", text: "#fff3bf"},
	RunsOut:   {fill: "#4a1414", stroke: "#ff6b6b", text: "#ffe3e3"},
	Candidate: {fill: "#12263d", stroke: "#74c0fc", text: "#d0ebff"},
	Missing:   {fill: "#3a1010", stroke: "#ff6b6b", text: "#ffe3e3"},
}
