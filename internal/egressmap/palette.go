package egressmap

// colours is how a state is drawn on a light background (Mermaid, DOT, the printed report).
type colours struct {
	fill, stroke, text string
	dashed             bool
}

// palette holds every state's colours. The HTML report has its own dark variants in CSS.
var palette = map[State]colours{
	Migrated:  {fill: "#d3f9d8", stroke: "#2b8a3e", text: "#0b3d1a"},
	ToMigrate: {fill: "#fff3bf", stroke: "#e67700", text: "#4a2a00"},
	Blocked:   {fill: "#ffe3e3", stroke: "#c92a2a", text: "#5c0a0a"},
	NoVPC:     {fill: "#f1f3f5", stroke: "#868e96", text: "#343a40"},
	InUse:     {fill: "#d0ebff", stroke: "#1864ab", text: "#082b4a"},
	Unused:    {fill: "#f3d9fa", stroke: "#862e9c", text: "#3b0a47", dashed: true},
	Oversized: {fill: "#e5dbff", stroke: "#5f3dc4", text: "#25135c"},
	NotReady:  {fill: "#ffe3e3", stroke: "#c92a2a", text: "#5c0a0a", dashed: true},
	Fits:      {fill: "#c3fae8", stroke: "#087f5b", text: "#03392a"},
	Tight:     {fill: "#fff3bf", stroke: "#e67700", text: "#4a2a00"},
	RunsOut:   {fill: "#ffe3e3", stroke: "#c92a2a", text: "#5c0a0a"},
	Candidate: {fill: "#e7f5ff", stroke: "#1c7ed6", text: "#082b4a", dashed: true},
	Missing:   {fill: "#fff5f5", stroke: "#c92a2a", text: "#5c0a0a", dashed: true},
}

// stateOrder lists the states in the order their styles are written.
var stateOrder = []State{Migrated, ToMigrate, Blocked, NoVPC, InUse, Unused, Oversized, NotReady, Fits, Tight, RunsOut, Candidate, Missing}

func coloursOf(s State) colours {
	if c, ok := palette[s]; ok {
		return c
	}
	return palette[NoVPC]
}

// edgeColour is the stroke of an edge by the mode it carries.
func edgeColour(mode string) string {
	switch mode {
	case "connector":
		return "#e67700"
	case "direct":
		return "#2b8a3e"
	}
	return "#1c7ed6" // a planned move
}
