package egressmap

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteMermaid writes m as a Mermaid flowchart (left to right): one subgraph per project
// holding its connectors, subnets and workloads; an edge from each connector or subnet to the
// workloads that use it, labelled with the mode and the egress setting; a dotted edge from a
// connector to the subnet its workloads would move to; one class per state. Node ids are
// stable ([A-Za-z0-9_]+, derived from project, region and name) and labels are quoted with
// Mermaid's entity codes for the characters its grammar reserves.
func WriteMermaid(w io.Writer, m Map) error {
	if err := m.Validate(); err != nil {
		return err
	}
	g := buildGraph(m)
	var b bytes.Buffer
	if m.Title != "" {
		fmt.Fprintf(&b, "%%%% %s\n", commentText(m.Title))
	}
	if m.Subtitle != "" {
		fmt.Fprintf(&b, "%%%% %s\n", commentText(m.Subtitle))
	}
	b.WriteString("flowchart LR\n")
	used := map[State][]string{}
	var usedOrder []State
	for _, p := range g.projects {
		fmt.Fprintf(&b, "  subgraph %s[\"%s\"]\n", p.id, mermaidText("project "+p.name))
		b.WriteString("    direction LR\n")
		for _, n := range p.nodes {
			open, closing := mermaidShape(n.kind)
			fmt.Fprintf(&b, "    %s%s\"%s\"%s\n", n.id, open, mermaidText(n.title)+"<br/>"+mermaidText(n.detail), closing)
			if _, ok := used[n.state]; !ok {
				usedOrder = append(usedOrder, n.state)
			}
			used[n.state] = append(used[n.state], n.id)
		}
		b.WriteString("  end\n")
	}
	for _, e := range g.edges {
		arrow := "-->"
		if e.mode == "next" {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s|\"%s\"| %s\n", e.from.id, arrow, mermaidText(e.label), e.to.id)
	}
	for _, s := range stateOrder {
		if _, ok := used[s]; !ok {
			continue
		}
		c := coloursOf(s)
		def := fmt.Sprintf("fill:%s,stroke:%s,color:%s", c.fill, c.stroke, c.text)
		if c.dashed {
			def += ",stroke-dasharray:5 3"
		}
		fmt.Fprintf(&b, "  classDef %s %s\n", mermaidClass(s), def)
	}
	for _, s := range stateOrder {
		if ids, ok := used[s]; ok {
			fmt.Fprintf(&b, "  class %s %s\n", strings.Join(ids, ","), mermaidClass(s))
		}
	}
	for _, s := range usedOrder { // states outside the palette: no style, still a class
		if _, known := palette[s]; !known {
			fmt.Fprintf(&b, "  class %s %s\n", strings.Join(used[s], ","), mermaidClass(s))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mermaidShape is the bracket pair of a node kind: connectors are hexagons, subnets
// rectangles with a double border (subroutine), workloads rounded boxes.
func mermaidShape(kind string) (string, string) {
	switch kind {
	case kindConnector:
		return "{{", "}}"
	case kindSubnet:
		return "[[", "]]"
	}
	return "(", ")"
}

// mermaidClass is a state as a class name: letters, digits and "_" ("to-migrate" is
// "to_migrate").
func mermaidClass(s State) string {
	id := sanitizeID(string(s))
	if id == "" {
		return "state"
	}
	return id
}

// mermaidEntities maps the characters Mermaid's grammar or its HTML labels would read as
// syntax to its entity codes (#name; or #decimal;), which it decodes when it draws.
var mermaidEntities = strings.NewReplacer(
	`#`, "#35;", // first, so that the codes below are not escaped again
	`"`, "#quot;",
	`&`, "#amp;",
	`<`, "#lt;",
	`>`, "#gt;",
	"`", "#96;",
	`|`, "#124;",
)

// mermaidText escapes a label for a double-quoted Mermaid string, on one line.
func mermaidText(s string) string {
	return mermaidEntities.Replace(oneLine(s))
}

// commentText keeps a %% comment on one line.
func commentText(s string) string { return oneLine(s) }
