package kv

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// etcdmonitorFields are the JSON names and omitempty flags of
// etcdmonitor's types (internal/kvmanager/types.go), which its web
// frontend (web/kv.js) reads. Trellis's types must carry exactly these.
var etcdmonitorFields = map[string][]string{
	"Node":              {"key", "value,omitempty", "dir", "ttl,omitempty", "createdIndex,omitempty", "modifiedIndex,omitempty", "version,omitempty", "nodes,omitempty"},
	"NodeResponse":      {"node"},
	"ConnectInfo":       {"version", "name", "size", "size_str"},
	"DeleteRequest":     {"key", "dir"},
	"ErrorResponse":     {"error", "code,omitempty", "message,omitempty"},
	"SeparatorResponse": {"separator"},
	"MessageResponse":   {"message"}, // gin.H{"message": "ok"}
	// etcdmonitor's PutRequest is key, value, ttl, dir; prev_value and
	// prev_version are Trellis's compare-and-swap.
	"PutRequest": {"key", "value", "ttl,omitempty", "dir,omitempty", "prev_value,omitempty", "prev_version,omitempty"},
}

func jsonTags(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := range t.NumField() {
		out = append(out, t.Field(i).Tag.Get("json"))
	}
	return out
}

func TestShapesMatchEtcdmonitor(t *testing.T) {
	for name, v := range map[string]any{
		"Node": Node{}, "NodeResponse": NodeResponse{}, "ConnectInfo": ConnectInfo{}, "DeleteRequest": DeleteRequest{},
		"ErrorResponse": ErrorResponse{}, "SeparatorResponse": SeparatorResponse{}, "MessageResponse": MessageResponse{},
		"PutRequest": PutRequest{},
	} {
		if got, want := jsonTags(v), etcdmonitorFields[name]; !slices.Equal(got, want) {
			t.Errorf("%s json fields %v, want etcdmonitor's %v", name, got, want)
		}
	}
}

func TestNodeJSON(t *testing.T) {
	cases := []struct {
		n    Node
		want string
	}{
		{Node{Key: "/a", Value: "v", TTL: 3, CreatedIndex: 1, ModifiedIndex: 2, Version: 2},
			`{"key":"/a","value":"v","dir":false,"ttl":3,"createdIndex":1,"modifiedIndex":2,"version":2}`},
		// A path prefix: no value, no revisions, no empty nodes list.
		{Node{Key: "/a", Dir: true, Nodes: []Node{}}, `{"key":"/a","dir":true}`},
		{Node{Key: "/", Dir: true, Nodes: []Node{{Key: "/b"}}}, `{"key":"/","dir":true,"nodes":[{"key":"/b","dir":false}]}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.n)
		if err != nil || string(b) != c.want {
			t.Errorf("marshal %+v = %s (%v), want %s", c.n, b, err, c.want)
		}
	}
}

func TestWatchEventJSON(t *testing.T) {
	b, _ := json.Marshal(WatchEvent{Type: "DELETE", Key: "/a", CreatedIndex: 3, ModifiedIndex: 9})
	if want := `{"type":"DELETE","key":"/a","value":"","createdIndex":3,"modifiedIndex":9,"version":0}`; string(b) != want {
		t.Fatalf("%s, want %s", b, want)
	}
	if strings.Contains(string(b), "\n") {
		t.Fatal("event JSON spans lines: an SSE data field must not")
	}
}
