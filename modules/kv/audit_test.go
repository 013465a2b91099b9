package kv

import (
	"encoding/json"
	"testing"
)

// putParams writes what json.Marshal made of the map it replaces.
func TestPutParamsMatchMarshal(t *testing.T) {
	v, n := "old", int64(3)
	for _, req := range []PutRequest{
		{Key: "/a", Value: "xyz"},
		{Key: "/a", Value: "", TTL: 60},
		{Key: "/a", Dir: true, TTL: -1},
		{Key: "/a", Value: "v", PrevValue: &v},
		{Key: "/a", Value: "v", PrevVersion: &n, Dir: true, TTL: 9},
	} {
		m := map[string]any{"ttl": req.TTL, "value_bytes": len(req.Value)}
		if req.Dir {
			m["dir"] = true
		}
		if req.PrevValue != nil || req.PrevVersion != nil {
			m["compare_and_swap"] = true
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := putParams(&req); string(got) != string(want) {
			t.Errorf("%+v: params %s, want %s", req, got, want)
		}
	}
}
