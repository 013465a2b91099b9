package kv

import (
	"encoding/json"
	"testing"
)

// encodeCases cover every omitempty field set and unset, escapes in keys
// and values, and nested trees with empty and non-empty children.
var encodeCases = []Node{
	{},
	{Key: "/a", Value: "1", CreatedIndex: 3, ModifiedIndex: 7, Version: 2},
	{Key: "/ttl", Value: "x", TTL: 30, CreatedIndex: 1, ModifiedIndex: 1, Version: 1},
	{Key: "/neg", TTL: -1, CreatedIndex: -5},
	{Key: `/quote"<&>`, Value: "line\nbreak\t\x00\u2028\xff é"},
	{Key: "/", Dir: true, Nodes: []Node{
		{Key: "/d", Dir: true, Nodes: []Node{{Key: "/d/x", Value: "v", Version: 1}}},
		{Key: "/e", Dir: true, Nodes: []Node{}},
		{Key: "/f", Value: "w"},
	}},
}

func TestNodeResponseAppendJSONMatchesMarshal(t *testing.T) {
	for _, n := range encodeCases {
		checkNodeEncoding(t, n)
	}
}

func FuzzNodeResponseAppendJSON(f *testing.F) {
	f.Add("/a", "v", false, int64(0), int64(1), int64(2), int64(3), "/a/b", "w")
	f.Add("", "", true, int64(-1), int64(0), int64(0), int64(0), "", "")
	f.Add("<\u2028>", "\xff\x00", true, int64(9), int64(9), int64(9), int64(9), "\"", "\\")
	f.Fuzz(func(t *testing.T, key, value string, dir bool, ttl, created, modified, version int64, childKey, childValue string) {
		n := Node{Key: key, Value: value, Dir: dir, TTL: ttl, CreatedIndex: created, ModifiedIndex: modified, Version: version}
		if dir {
			n.Nodes = []Node{{Key: childKey, Value: childValue, Version: version}}
		}
		checkNodeEncoding(t, n)
	})
}

func checkNodeEncoding(t *testing.T, n Node) {
	t.Helper()
	r := NodeResponse{Node: n}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.AppendJSON(nil); string(got) != string(want) {
		t.Fatalf("AppendJSON:   %s\njson.Marshal: %s", got, want)
	}
}
