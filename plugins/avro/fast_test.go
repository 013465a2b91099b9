package main

import (
	"testing"

	"github.com/linkedin/goavro/v2"
)

// slow is Validate without the fast path: goavro's verdict.
func (s schema) slow(payload []byte) error {
	s.tree = nil
	return s.Validate(payload)
}

func mustCompile(t testing.TB, src string) schema {
	t.Helper()
	s, err := compile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s.(schema)
}

// recursiveSchema is a linked list with a namespace-relative reference and
// a validated-string-free logical type.
const recursiveSchema = `{
	"type": "record", "name": "Node", "namespace": "list",
	"fields": [
		{"name": "value", "type": {"type": "long", "logicalType": "timestamp-millis"}},
		{"name": "next", "type": ["null", "Node"]},
		{"name": "flag", "type": "boolean"},
		{"name": "ratio", "type": "float"},
		{"name": "raw", "type": "bytes"}
	]
}`

func recursiveCases(t testing.TB) []payloadCase {
	c, err := goavro.NewCodec(recursiveSchema)
	if err != nil {
		t.Fatal(err)
	}
	leaf := map[string]any{"value": int64(3), "next": nil, "flag": true, "ratio": float32(0.5), "raw": []byte{0xff}}
	list := map[string]any{"value": int64(1), "next": goavro.Union("list.Node", leaf), "flag": false, "ratio": float32(1), "raw": []byte{}}
	b, err := c.BinaryFromNative(nil, list)
	if err != nil {
		t.Fatal(err)
	}
	badFlag := append([]byte(nil), b...)
	badFlag[len(badFlag)-6] = 2 // the outer flag
	return []payloadCase{
		{"list", b, ""},
		{"bad boolean", badFlag, "boolean"},
		{"truncated", b[:len(b)-1], "Node"},
	}
}

// TestFastPath: the fast path vouches for the valid payloads of the test
// cases and for none of the invalid ones.
func TestFastPath(t *testing.T) {
	for _, tc := range []struct {
		schema string
		cases  []payloadCase
	}{{orderSchema, orderCases(t)}, {recursiveSchema, recursiveCases(t)}} {
		s := mustCompile(t, tc.schema)
		if s.tree == nil {
			t.Fatalf("no fast path for %s", tc.schema)
		}
		for _, c := range tc.cases {
			fast := (walker{maxBlock: max(int64(len(c.payload)), minBlockCount)}).surelyValid(s.tree, c.payload)
			if fast != (c.want == "") {
				t.Errorf("%s: fast path %v", c.name, fast)
			}
			if err := s.slow(c.payload); (err == nil) != (c.want == "") {
				t.Errorf("%s: slow path %v", c.name, err)
			}
		}
	}
	if s := mustCompile(t, `{"type": "string", "name": "S", "logicalType": "validated-string", "pattern": "^a+$"}`); s.tree != nil {
		t.Fatal("a fast path for validated-string")
	}
}

// FuzzFastPath: whatever the fast path vouches for, goavro accepts.
func FuzzFastPath(f *testing.F) {
	schemas := []schema{mustCompile(f, orderSchema), mustCompile(f, recursiveSchema),
		mustCompile(f, `{"type": "map", "values": {"type": "array", "items": ["null", "int", {"type": "enum", "name": "E", "symbols": ["A", "B"]}]}}`)}
	for i, cases := range [][]payloadCase{orderCases(f), recursiveCases(f)} {
		for _, c := range cases {
			f.Add(uint8(i), c.payload)
		}
	}
	f.Add(uint8(2), []byte{2, 2, 'k', 3, 2, 2, 0, 0, 0})
	f.Add(uint8(2), []byte{4, 0, 0, 0, 0, 0}) // {"": [], "": []}: goavro refuses the duplicate key
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		s := schemas[int(which)%len(schemas)]
		fast := (walker{maxBlock: max(int64(len(payload)), minBlockCount)}).surelyValid(s.tree, payload)
		if err := s.slow(payload); fast && err != nil {
			t.Fatalf("the fast path vouches for % x, goavro says %v", payload, err)
		}
	})
}
