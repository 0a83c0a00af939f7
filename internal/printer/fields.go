package printer

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldRows renders a value's JSON form as a two-column table, FIELD and VALUE, for the table
// format of describe commands: nested objects as dotted keys (vpc.network), lists of scalars
// joined with ", ", a list of objects as one row per element (its fields as key=value), and
// empty values left out. The order is the JSON's.
func FieldRows(v any) (headers []string, rows [][]string, err error) {
	b, err := marshalJSON(v)
	if err != nil {
		return nil, nil, err
	}
	node, err := JSONToYAMLNode(b) // keeps the key order
	if err != nil {
		return nil, nil, err
	}
	var add func(prefix string, n *yamlNode)
	add = func(prefix string, n *yamlNode) {
		switch n.Kind {
		case mappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if prefix != "" {
					key = prefix + "." + key
				}
				add(key, n.Content[i+1])
			}
		case sequenceNode:
			if len(n.Content) == 0 {
				rows = append(rows, []string{prefix, "-"})
				return
			}
			if n.Content[0].Kind != mappingNode {
				var vals []string
				for _, c := range n.Content {
					vals = append(vals, scalarText(c))
				}
				rows = append(rows, []string{prefix, strings.Join(vals, ", ")})
				return
			}
			for _, c := range n.Content {
				var pairs []string
				for i := 0; i+1 < len(c.Content); i += 2 {
					if s := scalarText(c.Content[i+1]); s != "" {
						pairs = append(pairs, c.Content[i].Value+"="+s)
					}
				}
				rows = append(rows, []string{prefix, strings.Join(pairs, " ")})
			}
		default:
			if s := scalarText(n); s != "" && s != "null" {
				rows = append(rows, []string{prefix, s})
			}
		}
	}
	add("", node)
	return []string{"field", "value"}, rows, nil
}

// scalarText is a node's text: a scalar's value, or a nested value's compact JSON-like form.
func scalarText(n *yamlNode) string {
	switch n.Kind {
	case mappingNode:
		var pairs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, n.Content[i].Value+"="+scalarText(n.Content[i+1]))
		}
		return strings.Join(pairs, " ")
	case sequenceNode:
		var vals []string
		for _, c := range n.Content {
			vals = append(vals, scalarText(c))
		}
		return strings.Join(vals, ", ")
	}
	return n.Value
}

type yamlNode = yaml.Node

const (
	mappingNode  = yaml.MappingNode
	sequenceNode = yaml.SequenceNode
)
