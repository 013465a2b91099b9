package kv

import "github.com/trellis-cp/trellis/internal/jsonenc"

// AppendJSON appends r exactly as json.Marshal writes it. Every get and
// put answers a NodeResponse, and httpx.JSON takes this path instead of
// reflection (encode_test.go holds the two byte-equal).
func (r NodeResponse) AppendJSON(b []byte) []byte {
	b = append(b, `{"node":`...)
	b = r.Node.appendJSON(b)
	return append(b, '}')
}

// appendJSON follows Node's struct tags: field order, omitempty.
func (n *Node) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = jsonenc.StringField(b, "key", n.Key, false)
	b = jsonenc.StringField(b, "value", n.Value, true)
	b = jsonenc.Field(b, "dir")
	b = jsonenc.Bool(b, n.Dir)
	for _, f := range [...]struct {
		name string
		v    int64
	}{{"ttl", n.TTL}, {"createdIndex", n.CreatedIndex}, {"modifiedIndex", n.ModifiedIndex}, {"version", n.Version}} {
		if f.v != 0 {
			b = jsonenc.Field(b, f.name)
			b = jsonenc.Int(b, f.v)
		}
	}
	if len(n.Nodes) > 0 {
		b = jsonenc.Field(b, "nodes")
		b = append(b, '[')
		for i := range n.Nodes {
			if i > 0 {
				b = append(b, ',')
			}
			b = n.Nodes[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
