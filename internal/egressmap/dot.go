package egressmap

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteDOT writes m as a Graphviz digraph (left to right): one cluster per project holding
// its connectors, subnets and workloads, coloured by state; an edge from each connector or
// subnet to the workloads that use it, labelled with the mode and the egress setting; a
// dashed edge from a connector to the subnet its workloads would move to. Node ids are the
// Mermaid ones; strings are quoted and escaped.
func WriteDOT(w io.Writer, m Map) error {
	if err := m.Validate(); err != nil {
		return err
	}
	g := buildGraph(m)
	var b bytes.Buffer
	b.WriteString("digraph egress {\n")
	label := m.Title
	if m.Subtitle != "" {
		label += "\n" + m.Subtitle
	}
	fmt.Fprintf(&b, "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=14, labelloc=t, label=%s];\n", dotString(label))
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for _, p := range g.projects {
		fmt.Fprintf(&b, "  subgraph cluster_%s {\n", p.id)
		fmt.Fprintf(&b, "    label=%s;\n", dotString("project "+p.name))
		b.WriteString("    style=\"rounded\";\n    color=\"#adb5bd\";\n")
		for _, n := range p.nodes {
			c := coloursOf(n.state)
			style := "rounded,filled"
			if c.dashed {
				style += ",dashed"
			}
			fmt.Fprintf(&b, "    %s [label=%s, shape=%s, style=%s, fillcolor=%s, color=%s, fontcolor=%s, tooltip=%s];\n",
				n.id, dotString(oneLine(n.title)+"\n"+oneLine(n.detail)), dotShape(n.kind), dotString(style),
				dotString(c.fill), dotString(c.stroke), dotString(c.text), dotString(n.tooltip))
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.edges {
		attrs := fmt.Sprintf("label=%s, color=%s, fontcolor=%s", dotString(e.label), dotString(edgeColour(e.mode)), dotString(edgeColour(e.mode)))
		if e.mode == "next" {
			attrs += ", style=dashed"
		}
		fmt.Fprintf(&b, "  %s -> %s [%s];\n", e.from.id, e.to.id, attrs)
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func dotShape(kind string) string {
	switch kind {
	case kindConnector:
		return "hexagon"
	case kindSubnet:
		return "box3d"
	}
	return "box"
}

// dotString quotes s as a DOT string: backslashes and quotes escaped, newlines as \n
// (centred lines), other control characters dropped.
func dotString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
