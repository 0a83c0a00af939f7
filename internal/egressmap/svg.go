package egressmap

import (
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"
)

// The graph's layout, in SVG user units (CSS pixels at 100%). Each project is a band, top to
// bottom; in a band its connectors and subnets make the middle column and its workloads the
// right one, each workload next to what it uses.
const (
	svgWidth     = 830
	midX         = 56 // left of the connector/subnet column (room for the curves of planned moves)
	midW         = 310
	wlX          = 500 // left of the workload column
	wlW          = 310
	nodeH        = 38
	nodeGap      = 8
	bandTop      = 30 // room for the project's label
	bandBottom   = 12
	bandGap      = 14
	svgMargin    = 10
	titleChars   = 42 // what fits a node's width in the title's font
	detailChars  = 52
	edgeLabelMax = 40
)

type pos struct{ x, y, w, h float64 }

func (p pos) midY() float64 { return p.y + p.h/2 }

type layout struct {
	g      *graph
	at     map[*gnode]pos
	bands  []pos
	height float64
}

// layoutGraph places every node. Workloads are stacked in the order of the node they use
// (connectors, then subnets, then workloads using a node of another project, then those
// without VPC access); each connector or subnet is centred on its workloads as far as the
// ones above it allow; connectors and subnets without workloads follow below.
func layoutGraph(g *graph) *layout {
	l := &layout{g: g, at: map[*gnode]pos{}}
	y := float64(svgMargin)
	for _, p := range g.projects {
		top := y
		var mids, wls []*gnode
		for _, n := range p.nodes {
			if n.kind == kindWorkload {
				wls = append(wls, n)
			} else {
				mids = append(mids, n)
			}
		}
		children := map[*gnode][]*gnode{}
		var placed []*gnode
		done := map[*gnode]bool{}
		for _, m := range mids {
			for _, w := range wls {
				if w.workload.Via == m.key {
					children[m] = append(children[m], w)
					placed = append(placed, w)
					done[w] = true
				}
			}
		}
		for _, w := range wls { // a node of another project, then no VPC access
			if !done[w] && w.workload.Via != "" {
				placed = append(placed, w)
				done[w] = true
			}
		}
		for _, w := range wls {
			if !done[w] {
				placed = append(placed, w)
			}
		}
		wy := top + bandTop
		for _, w := range placed {
			l.at[w] = pos{wlX, wy, wlW, nodeH}
			wy += nodeH + nodeGap
		}
		my := top + bandTop
		var idle []*gnode
		for _, m := range mids {
			cs := children[m]
			if len(cs) == 0 {
				idle = append(idle, m)
				continue
			}
			sum := 0.0
			for _, c := range cs {
				sum += l.at[c].midY()
			}
			want := sum/float64(len(cs)) - nodeH/2
			if want < my {
				want = my
			}
			l.at[m] = pos{midX, want, midW, nodeH}
			my = want + nodeH + nodeGap
		}
		for _, m := range idle {
			l.at[m] = pos{midX, my, midW, nodeH}
			my += nodeH + nodeGap
		}
		bottom := max(wy, my, top+bandTop+nodeH+nodeGap) - nodeGap + bandBottom
		l.bands = append(l.bands, pos{svgMargin / 2, top, svgWidth - svgMargin, bottom - top})
		y = bottom + bandGap
	}
	l.height = y - bandGap + svgMargin
	if len(g.projects) == 0 {
		l.height = 2*svgMargin + nodeH
	}
	return l
}

// renderSVG draws the graph as an inline SVG element. Colours come from the page's CSS
// (classes state-*, edge-*), so that dark mode and print restyle it.
func renderSVG(g *graph, title string) template.HTML {
	l := layoutGraph(g)
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %s" width="%d" height="%s" role="img" aria-labelledby="graph-title">`,
		svgWidth, num(l.height), svgWidth, num(l.height))
	fmt.Fprintf(&b, `<title id="graph-title">%s</title>`, esc(title))
	b.WriteString(`<defs>`)
	for _, m := range []string{"connector", "direct", "next"} {
		fmt.Fprintf(&b, `<marker id="arrow-%s" class="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`, m, m)
	}
	b.WriteString(`</defs>`)
	if len(g.projects) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d">No workloads, connectors or subnets.</text>`, svgMargin, svgMargin+nodeH/2)
	}
	for i, p := range g.projects {
		band := l.bands[i]
		fmt.Fprintf(&b, `<g class="project" data-project="%s"><rect class="band" x="%s" y="%s" width="%s" height="%s" rx="8"/><text class="band-label" x="%s" y="%s">%s</text></g>`,
			esc(p.name), num(band.x), num(band.y), num(band.w), num(band.h), num(band.x+10), num(band.y+19), esc("project "+p.name))
	}
	b.WriteString(`<g class="edges">`)
	for _, e := range g.edges {
		from, to := l.at[e.from], l.at[e.to]
		var d string
		if e.mode == "next" {
			// Within the middle column: a curve on its left.
			x1, y1 := from.x, from.midY()
			x2, y2 := to.x, to.midY()
			bend := min(from.x-8, 48.0)
			d = fmt.Sprintf("M%s,%s C%s,%s %s,%s %s,%s", num(x1), num(y1), num(x1-bend), num(y1), num(x2-bend), num(y2), num(x2-2), num(y2))
		} else {
			x1, y1 := from.x+from.w, from.midY()
			x2, y2 := to.x-2, to.midY()
			mx := (x1 + x2) / 2
			d = fmt.Sprintf("M%s,%s C%s,%s %s,%s %s,%s", num(x1), num(y1), num(mx), num(y1), num(mx), num(y2), num(x2), num(y2))
		}
		fmt.Fprintf(&b, `<path class="edge edge-%s" d="%s" marker-end="url(#arrow-%s)" data-from="%s" data-to="%s"><title>%s</title></path>`,
			esc(e.mode), d, esc(e.mode), esc(e.from.id), esc(e.to.id), esc(e.from.title+" → "+e.to.title+": "+e.label))
		if e.mode != "next" {
			// The egress, at the workload's end of the edge.
			fmt.Fprintf(&b, `<text class="edge-label" x="%s" y="%s" text-anchor="end">%s</text>`,
				num(to.x-8), num(to.midY()-4), esc(shorten(edgeShort(e), edgeLabelMax)))
		} else {
			fmt.Fprintf(&b, `<text class="edge-label next-label" x="%s" y="%s">%s</text>`,
				num(svgMargin/2+4), num((from.midY()+to.midY())/2+3), esc(shorten(strings.TrimPrefix(e.label, "next: "), 14)))
		}
	}
	b.WriteString(`</g>`)
	for _, p := range g.projects {
		for _, n := range p.nodes {
			at := l.at[n]
			fmt.Fprintf(&b, `<g class="node node-%s state-%s" id="%s" data-kind="%s" data-key="%s" data-state="%s">`,
				n.kind, esc(string(n.state)), esc(n.id), n.kind, esc(n.key), esc(string(n.state)))
			fmt.Fprintf(&b, `<title>%s</title>`, esc(n.title+"\n"+n.detail+"\n"+n.tooltip))
			rx := "6"
			if n.kind == kindSubnet {
				rx = "2"
			}
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" rx="%s"/>`, num(at.x), num(at.y), num(at.w), num(at.h), rx)
			if n.kind == kindConnector {
				// A connector's mark: a stripe on its left edge.
				fmt.Fprintf(&b, `<rect class="mark" x="%s" y="%s" width="5" height="%s" rx="2"/>`, num(at.x), num(at.y), num(at.h))
			}
			fmt.Fprintf(&b, `<text class="node-title" x="%s" y="%s">%s</text>`, num(at.x+11), num(at.y+16), esc(shorten(n.title, titleChars)))
			fmt.Fprintf(&b, `<text class="node-detail" x="%s" y="%s">%s</text>`, num(at.x+11), num(at.y+30), esc(shorten(n.detail, detailChars)))
			b.WriteString(`</g>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above went through esc
}

// edgeShort is an edge's label as drawn next to the workload: the egress (the mode shows in
// the edge's colour and in the node it starts from).
func edgeShort(e gedge) string {
	if e.to.workload != nil && e.to.workload.Egress != "" {
		return e.to.workload.Egress
	}
	return e.label
}

// shorten cuts s to n characters, ending with "…" when cut.
func shorten(s string, n int) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// num formats a coordinate with at most one decimal.
func num(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

const (
	barW = 520.0
	barH = 18.0
)

// renderBar draws a subnet's usage: reserved now, at max scale, after the planned moves, and
// with the rollout overlap, against its usable addresses.
func renderBar(s Subnet) template.HTML {
	esc := template.HTMLEscapeString
	scale := float64(max(s.Usable, s.RolloutIPs, s.PlannedIPs, s.MaxScaleIPs, s.ReservedIPs, 1))
	width := func(ips int) float64 {
		if ips <= 0 {
			return 0
		}
		return max(2, barW*float64(ips)/scale) // anything at all stays visible
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s" data-subnet="%s">`,
		num(barW+2), num(barH+2), num(barW+2), num(barH+2), esc(barAria(s)), esc(s.Key))
	fmt.Fprintf(&b, `<rect class="track" x="1" y="1" width="%s" height="%s" rx="3"/>`, num(width(s.Usable)), num(barH))
	segs := []struct {
		class, what string
		ips         int
	}{
		{"rollout", "with a rollout's overlap", s.RolloutIPs},
		{"planned", "after the planned migrations, at max scale", s.PlannedIPs},
		{"maxscale", "its workloads at max scale", s.MaxScaleIPs},
		{"reserved", "reserved now", s.ReservedIPs},
	}
	for _, sg := range segs {
		fmt.Fprintf(&b, `<rect class="seg seg-%s" data-seg="%s" x="1" y="1" width="%s" height="%s" rx="3"><title>%s</title></rect>`,
			sg.class, sg.class, num(width(sg.ips)), num(barH), esc(fmt.Sprintf("%d addresses %s", sg.ips, sg.what)))
	}
	if over := max(s.RolloutIPs, s.PlannedIPs, s.MaxScaleIPs, s.ReservedIPs) - s.Usable; over > 0 && s.Usable > 0 {
		fmt.Fprintf(&b, `<rect class="seg seg-over" data-seg="over" x="%s" y="1" width="%s" height="%s"><title>%s</title></rect>`,
			num(1+width(s.Usable)), num(barW*float64(over)/scale), num(barH), esc(fmt.Sprintf("%d addresses more than it has", over)))
	}
	fmt.Fprintf(&b, `<rect class="capacity" x="%s" y="0" width="2" height="%s"/>`, num(width(s.Usable)), num(barH+2))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above went through esc
}

func barAria(s Subnet) string {
	return fmt.Sprintf("subnet %s: %d usable addresses; %d reserved now, %d at max scale, %d after the planned migrations, %d with a rollout's overlap",
		s.Name, s.Usable, s.ReservedIPs, s.MaxScaleIPs, s.PlannedIPs, s.RolloutIPs)
}
