package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// orderSchema has a nested record, an array, a map, unions, an enum and a
// fixed.
const orderSchema = `{
	"type": "record", "name": "Order", "namespace": "shop",
	"fields": [
		{"name": "id", "type": "long"},
		{"name": "customer", "type": {
			"type": "record", "name": "Customer",
			"fields": [
				{"name": "name", "type": "string"},
				{"name": "email", "type": ["null", "string"], "default": null}
			]
		}},
		{"name": "items", "type": {"type": "array", "items": {
			"type": "record", "name": "Item",
			"fields": [
				{"name": "sku", "type": "string"},
				{"name": "qty", "type": "int"},
				{"name": "price", "type": "double"}
			]
		}}},
		{"name": "attrs", "type": {"type": "map", "values": "string"}},
		{"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
		{"name": "digest", "type": {"type": "fixed", "name": "MD5", "size": 4}},
		{"name": "note", "type": ["null", "string", "long"]}
	]
}`

func order(note any) map[string]any {
	return map[string]any{
		"id":       int64(42),
		"customer": map[string]any{"name": "Ada", "email": goavro.Union("string", "ada@example.com")},
		"items": []any{
			map[string]any{"sku": "A-1", "qty": int32(2), "price": 9.5},
			map[string]any{"sku": "B-2", "qty": int32(1), "price": 0.25},
		},
		"attrs":  map[string]any{"gift": "yes", "channel": "web"},
		"status": "PAID",
		"digest": []byte{1, 2, 3, 4},
		"note":   note,
	}
}

// encode is the test's own Avro encoder: payloads are real encodings.
func encode(t testing.TB, schema string, native any) []byte {
	t.Helper()
	c, err := goavro.NewCodec(schema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type payloadCase struct {
	name    string
	payload []byte
	want    string // "" for valid, else a part of the message
}

func orderCases(t testing.TB) []payloadCase {
	full := encode(t, orderSchema, order(goavro.Union("string", "leave at door")))
	nullNote := encode(t, orderSchema, order(nil))
	longNote := encode(t, orderSchema, order(goavro.Union("long", int64(7))))
	noEmail := order(nil)
	noEmail["customer"] = map[string]any{"name": "Bob", "email": nil}
	noItems := order(nil)
	noItems["items"] = []any{}
	noItems["attrs"] = map[string]any{}
	// The status enum is the 5th field; in nullNote it is followed by the
	// 4-byte fixed and the note's union index 0: status is at len-6.
	badEnum := append([]byte(nil), nullNote...)
	if badEnum[len(badEnum)-6] != 2 { // PAID, zig-zag 1
		t.Fatalf("status not where expected: % x", badEnum)
	}
	badEnum[len(badEnum)-6] = 10 // index 5
	badUnion := append([]byte(nil), nullNote...)
	badUnion[len(badUnion)-1] = 6 // branch 3 of a 3-branch union
	return []payloadCase{
		{"full", full, ""},
		{"null note", nullNote, ""},
		{"long note", longNote, ""},
		{"null email", encode(t, orderSchema, noEmail), ""},
		{"empty array and map", encode(t, orderSchema, noItems), ""},
		{"empty payload", nil, "cannot decode binary record \"shop.Order\" field \"id\""},
		{"truncated", full[:len(full)-3], "field \"note\""},
		{"truncated in nested record", full[:4], "field \"customer\""},
		{"trailing byte", append(append([]byte(nil), full...), 0), "trailing bytes: the shop.Order datum ends at byte 93 of 94"},
		{"two datums", append(append([]byte(nil), nullNote...), nullNote...), fmt.Sprintf("ends at byte %d of %d", len(nullNote), 2*len(nullNote))},
		{"enum index out of range", badEnum, "field \"status\""},
		{"union index out of range", badUnion, "field \"note\""},
		// id 1, then customer.name of length 2^31-1: more than is left.
		{"string longer than payload", []byte{2, 0xfe, 0xff, 0xff, 0xff, 0x0f}, "field \"customer\""},
		// id, customer {"", null}, then an items block of 2^31-1 records:
		// refused without allocating for them.
		{"huge block count", []byte{2, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f}, "MaxBlockCount"},
		{"JSON instead of binary", []byte(`{"id": 42}`), "shop.Order"},
	}
}

// checkResults compares plugin results with the cases.
func checkResults(t *testing.T, cases []payloadCase, res []plugin.Result) {
	t.Helper()
	if len(res) != len(cases) {
		t.Fatalf("%d results for %d payloads", len(res), len(cases))
	}
	for i, c := range cases {
		r := res[i]
		if c.want == "" {
			if !r.OK() {
				t.Errorf("%s: %v %q, want valid", c.name, r.Outcome, r.Message)
			}
			continue
		}
		if r.Outcome != plugin.Invalid || !strings.Contains(r.Message, c.want) {
			t.Errorf("%s: %v %q, want invalid with %q", c.name, r.Outcome, r.Message, c.want)
		} else {
			t.Logf("%s: %s", c.name, r.Message)
		}
	}
}

// wasmPath is this package built to .wasm by TestMain.
var wasmPath string

func TestMain(m *testing.M) { os.Exit(plugintest.RunMain(m, ".", &wasmPath)) }

// loadPlugin loads the built plugin in a test host.
func loadPlugin(t testing.TB) *plugintest.Plugin {
	t.Helper()
	return plugintest.Load(t, wasmPath, plugin.Manifest{})
}

func validateBytes(t testing.TB, p *plugintest.Plugin, schema string, payloads [][]byte) ([]plugin.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.Plugin.Validate(ctx, []byte(schema), payloads)
}

func TestAvroPlugin(t *testing.T) {
	p := loadPlugin(t)
	if d := p.Describe(); d.Name != "avro" || d.Kind != plugin.KindValidator || d.Version != "1.0.0" ||
		!strings.Contains(d.Description, "Avro binary") {
		t.Fatalf("describe = %+v", d)
	}

	t.Run("record", func(t *testing.T) {
		cases := orderCases(t)
		in := make([][]byte, len(cases))
		for i, c := range cases {
			in[i] = c.payload
		}
		res, err := validateBytes(t, p, orderSchema, in)
		if err != nil {
			t.Fatal(err)
		}
		checkResults(t, cases, res)
		if st := p.Stats(); st.Discarded != 0 {
			t.Fatalf("an instance was discarded: %+v", st)
		}
	})

	t.Run("primitive schemas", func(t *testing.T) {
		for _, tc := range []struct {
			schema  string
			payload []byte
			want    string
		}{
			{`"string"`, encode(t, `"string"`, "héllo"), ""},
			{`"string"`, []byte{}, "short buffer"},
			{`"null"`, []byte{}, ""},
			{`"null"`, []byte{0}, "trailing bytes: the null datum ends at byte 0 of 1"},
			{`{"type": "array", "items": "int"}`, encode(t, `{"type": "array", "items": "int"}`, []any{int32(1), int32(-2)}), ""},
			{`{"type": "array", "items": "int"}`, []byte{4, 2}, "array"},
			{`"long"`, []byte{0x80}, "not an Avro long datum: short buffer"},
			{`{"type": "fixed", "name": "F", "size": 3}`, []byte{1, 2}, "not an Avro F datum"},
			{`{"type": "fixed", "name": "F", "size": 3}`, []byte{1, 2, 3}, ""},
		} {
			res, err := validateBytes(t, p, tc.schema, [][]byte{tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			checkResults(t, []payloadCase{{tc.schema, tc.payload, tc.want}}, res)
		}
	})

	t.Run("schema errors", func(t *testing.T) {
		for _, tc := range []struct{ schema, want string }{
			{`"strin"`, `unknown type name: "strin"`},
			{`{"type": "strin"}`, `unknown type name: "strin"`},
			{`{`, "schema: "},
			{`not json`, "schema: "},
			{`{"type": "record", "name": "R"}`, "fields"},
			{`{"type": "enum", "name": "E"}`, "symbols"},
			{`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "Missing"}]}`, `unknown type name: "Missing"`},
			{`{"type": "fixed", "name": "F"}`, "size"},
		} {
			_, err := validateBytes(t, p, tc.schema, [][]byte{{0}})
			var ge *plugin.GuestError
			if !errors.As(err, &ge) || ge.Op != "compile" || !strings.Contains(ge.Msg, tc.want) {
				t.Errorf("schema %s: %v, want a compile error with %q", tc.schema, err, tc.want)
			} else {
				t.Logf("%s: %s", tc.schema, ge.Msg)
			}
		}
	})
}

// TestAvroNative runs the same cases through compile in this process: the
// plugin's logic, without the host.
func TestAvroNative(t *testing.T) {
	s, err := compile([]byte(orderSchema))
	if err != nil {
		t.Fatal(err)
	}
	cases := orderCases(t)
	res := make([]plugin.Result, len(cases))
	for i, c := range cases {
		if err := s.Validate(c.payload); err != nil {
			res[i] = plugin.Result{Outcome: plugin.Invalid, Message: err.Error()}
		} else {
			res[i] = plugin.Result{Outcome: plugin.Valid}
		}
	}
	checkResults(t, cases, res)
}

// TestAvroConformance runs the SDK's conformance kit on the plugin.
func TestAvroConformance(t *testing.T) {
	schema := `{"type": "record", "name": "P", "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}]}`
	valid := encode(t, schema, map[string]any{"name": "Ada", "age": int32(36)})
	plugintest.RunConformance(t, wasmPath, plugintest.Conformance{
		Schema:    schema,
		Valid:     []string{string(valid), "\x00\x00"},
		Invalid:   []string{"", string(valid) + "x", "\x06Ad"},
		BadSchema: `{"type": "strin"}`,
	})
}
