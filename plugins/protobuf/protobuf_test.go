package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// wasmPath is this package built to .wasm by TestMain.
var wasmPath string

func TestMain(m *testing.M) { os.Exit(plugintest.RunMain(m, ".", &wasmPath)) }

func loadPlugin(t testing.TB) *plugintest.Plugin {
	t.Helper()
	return plugintest.Load(t, wasmPath, plugin.Manifest{})
}

const shopProto = `syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  Customer customer = 2;
  repeated Item items = 3;
  map<string, string> attrs = 4;
  Status status = 5;
  oneof payment {
    string card = 6;
    Voucher voucher = 7;
  }
  google.protobuf.Timestamp created = 8;
  repeated int32 codes = 9;
  map<string, Item> by_sku = 10;
}

message Customer {
  string name = 1;
  string email = 2;
}

message Item {
  string sku = 1;
  int32 qty = 2;
  double price = 3;
}

message Voucher { string code = 1; }

enum Status {
  NEW = 0;
  PAID = 1;
  SHIPPED = 2;
}
`

const legacyProto = `syntax = "proto2";
package legacy;

message Account {
  required string id = 1;
  optional Owner owner = 2;
  optional Kind kind = 3;
  repeated Owner others = 4;
  repeated Kind kinds = 5;
  extensions 100 to 199;
}

message Owner {
  required string name = 1;
  optional int32 age = 2;
}

enum Kind {
  USER = 1;
  ADMIN = 2;
}

extend Account {
  optional string note = 100;
}
`

func envelopeOf(t testing.TB, src, message string) string {
	b, err := json.Marshal(envelope{Proto: src, Message: message})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// messageType compiles a schema in this process (the plugin's compile)
// for building payloads with dynamicpb.
func messageType(t testing.TB, schemaSrc string) protoreflect.MessageDescriptor {
	t.Helper()
	s, err := compile([]byte(schemaSrc))
	if err != nil {
		t.Fatal(err)
	}
	return s.(*schema).md
}

// msg builds a dynamic message: fields maps names to values, a nested
// map[string]any builds a message, []any a list, map[any]any a map.
func msg(t testing.TB, md protoreflect.MessageDescriptor, fields map[string]any) *dynamicpb.Message {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	for name, v := range fields {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("%s has no field %s", md.FullName(), name)
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for k, v := range v.(map[any]any) {
				mp.Set(protoreflect.ValueOf(k).MapKey(), value(t, fd.MapValue(), v, mp.NewValue))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for _, v := range v.([]any) {
				l.Append(value(t, fd, v, l.NewElement))
			}
		default:
			m.Set(fd, value(t, fd, v, func() protoreflect.Value { return m.NewField(fd) }))
		}
	}
	return m
}

func value(t testing.TB, fd protoreflect.FieldDescriptor, v any, newValue func() protoreflect.Value) protoreflect.Value {
	switch v := v.(type) {
	case map[string]any:
		sub := newValue().Message()
		proto.Merge(sub.Interface(), msg(t, fd.Message(), v))
		return protoreflect.ValueOfMessage(sub)
	case protoreflect.EnumNumber:
		return protoreflect.ValueOfEnum(v)
	}
	return protoreflect.ValueOf(v)
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

type payloadCase struct {
	name    string
	payload []byte
	want    string // "" for valid, else a part of the message
}

func orderFields() map[string]any {
	return map[string]any{
		"id":       int64(42),
		"customer": map[string]any{"name": "Ada", "email": "ada@example.com"},
		"items": []any{
			map[string]any{"sku": "A-1", "qty": int32(2), "price": 9.5},
			map[string]any{"sku": "B-2", "qty": int32(1), "price": 0.25},
		},
		"attrs":   map[any]any{"gift": "yes", "channel": "web"},
		"status":  protoreflect.EnumNumber(1),
		"voucher": map[string]any{"code": "XMAS"},
		"created": map[string]any{"seconds": int64(1700000000), "nanos": int32(5)},
		"codes":   []any{int32(3), int32(-1), int32(300)},
		"by_sku":  map[any]any{"A-1": map[string]any{"sku": "A-1", "qty": int32(2)}},
	}
}

func shopCases(t testing.TB) []payloadCase {
	order := messageType(t, shopProto)
	item := order.Fields().ByName("items").Message()
	full := marshal(t, msg(t, order, orderFields()))
	card := orderFields()
	delete(card, "voucher")
	card["card"] = "4111"
	card["status"] = protoreflect.EnumNumber(9) // open enum: unknown values are values
	itemBytes := marshal(t, msg(t, item, map[string]any{"sku": "C-3", "qty": int32(1)}))

	// items[1] with an extra field 9.
	badItem := cat(itemBytes, protowire.AppendTag(nil, 9, protowire.VarintType), protowire.AppendVarint(nil, 1))
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	bytesField := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(tag(num, protowire.BytesType), b)
	}
	return []payloadCase{
		{"full", full, ""},
		{"empty message", nil, ""},
		{"oneof card, open enum value", marshal(t, msg(t, order, card)), ""},
		{"repeated unpacked is accepted too", cat(tag(9, protowire.VarintType), protowire.AppendVarint(nil, 7)), ""},
		{"unknown field at the top", cat(full, tag(99, protowire.VarintType), protowire.AppendVarint(nil, 1)), "Order: unknown field 99 (varint)"},
		{"unknown field in items[1]", cat(bytesField(3, itemBytes), bytesField(3, badItem)), "Order.items[1]: unknown field 9 (varint)"},
		{"unknown field in a map value", bytesField(10, cat(bytesField(1, []byte("k")), bytesField(2, badItem))), `Order.by_sku["k"]: unknown field 9 (varint)`},
		{"unknown field in a well-known type", bytesField(8, cat(tag(3, protowire.VarintType), protowire.AppendVarint(nil, 1))), "Order.created: unknown field 3 (varint)"},
		{"wrong wire type: string sent as varint", bytesField(2, cat(tag(1, protowire.VarintType), protowire.AppendVarint(nil, 5))), "Order.customer.name: field 1 has wire type varint, but it is declared string"},
		{"wrong wire type: message sent as fixed64", cat(tag(2, protowire.Fixed64Type), protowire.AppendFixed64(nil, 1)), "Order.customer: field 2 has wire type fixed64, but it is declared shop.Customer"},
		{"wrong wire type: double sent as bytes", bytesField(3, cat(bytesField(3, []byte("x")))), "Order.items[0].price: field 3 has wire type bytes, but it is declared double"},
		{"invalid UTF-8", bytesField(2, bytesField(1, []byte("A\xffB"))), "Order.customer.name: invalid UTF-8"},
		{"invalid UTF-8 in a map key", bytesField(4, cat(bytesField(1, []byte("\xc3")), bytesField(2, []byte("v")))), "Order.attrs[0].key: invalid UTF-8"},
		// protobuf-go panics on this one; the plugin recovers and explains.
		{"map key again with the wrong wire type", bytesField(4, cat(bytesField(1, []byte("k")), tag(1, protowire.Fixed64Type), protowire.AppendFixed64(nil, 0))), "Order.attrs[0].key: field 1 has wire type fixed64, but it is declared string"},
		{"truncated", full[:len(full)-1], "Order."},
		{"truncated inside items[1]", cat(bytesField(3, itemBytes), tag(3, protowire.BytesType), protowire.AppendVarint(nil, uint64(len(itemBytes)+5)), itemBytes), "Order.items[1]: unexpected EOF"},
		{"trailing garbage", cat(full, []byte{0xff, 0xff}), "Order: bad field tag"},
		{"field number 0", cat(full, []byte{0x00, 0x01}), "Order: bad field tag: invalid field number"},
		{"an Item is not an Order", itemBytes, "Order.id: field 1 has wire type bytes, but it is declared int64"},
		{"JSON is not the binary encoding", []byte(`{"id": 1}`), "Order"},
	}
}

func legacyCases(t testing.TB) []payloadCase {
	account := messageType(t, legacyProto)
	full := marshal(t, msg(t, account, map[string]any{
		"id":     "acc-1",
		"owner":  map[string]any{"name": "Ada", "age": int32(36)},
		"kind":   protoreflect.EnumNumber(2),
		"others": []any{map[string]any{"name": "Bob"}, map[string]any{"name": "Eve"}},
	}))
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	bytesField := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(tag(num, protowire.BytesType), b)
	}
	id := bytesField(1, []byte("acc-2"))
	return []payloadCase{
		{"full", full, ""},
		{"declared extension", cat(id, bytesField(100, []byte("hello"))), ""},
		{"proto2 strings need not be UTF-8", bytesField(1, []byte("\xff")), ""},
		{"required missing at the top", bytesField(2, bytesField(1, []byte("Ada"))), "Account.id: required field is missing"},
		{"required missing below", cat(id, bytesField(2, nil)), "Account.owner.name: required field is missing"},
		{"required missing in others[1]", cat(id, bytesField(4, bytesField(1, []byte("Bob"))), bytesField(4, nil)), "Account.others[1].name: required field is missing"},
		{"closed enum, unknown value", cat(id, tag(3, protowire.VarintType), protowire.AppendVarint(nil, 7)), "Account.kind: 7 is not a value of enum legacy.Kind"},
		{"closed enum, unknown value in a list", cat(id, tag(5, protowire.VarintType), protowire.AppendVarint(nil, 1), tag(5, protowire.VarintType), protowire.AppendVarint(nil, 0)), "Account.kinds[1]: 0 is not a value of enum legacy.Kind"},
		{"undeclared extension", cat(id, tag(150, protowire.VarintType), protowire.AppendVarint(nil, 1)), "Account: field 150 (varint) is an extension the schema does not declare"},
		{"wrong wire type for an extension", cat(id, tag(100, protowire.VarintType), protowire.AppendVarint(nil, 1)), "Account.(legacy.note): field 100 has wire type varint, but the extension is declared string"},
	}
}

const editionsProto = `edition = "2023";
package ed;

message M {
  string name = 1;
  int32 n = 2 [features.field_presence = LEGACY_REQUIRED];
  Inner inner = 3 [features.message_encoding = DELIMITED];
  message Inner { int32 x = 1; }
  string raw = 4 [features.utf8_validation = NONE];
}
`

var editionsCases = []payloadCase{
	{"required set", []byte("\x10\x01"), ""},
	{"delimited message", []byte("\x10\x01\x1b\x08\x01\x1c"), ""},
	{"utf8_validation NONE", []byte("\x10\x01\x22\x01\xff"), ""},
	{"LEGACY_REQUIRED missing", []byte("\x0a\x01a"), "M.n: required field is missing"},
	{"invalid UTF-8", []byte("\x10\x01\x0a\x01\xff"), "M.name: invalid UTF-8"},
	{"delimited message sent length-prefixed", []byte("\x10\x01\x1a\x02\x08\x01"), "M.inner: field 3 has wire type bytes, but it is declared group ed.M.Inner"},
}

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
		} else if testing.Verbose() {
			t.Logf("%s: %s", c.name, r.Message)
		}
	}
}

func validateBytes(t testing.TB, p *plugintest.Plugin, schema string, payloads [][]byte) ([]plugin.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.Plugin.Validate(ctx, []byte(schema), payloads)
}

func runCases(t *testing.T, p *plugintest.Plugin, schema string, cases []payloadCase) {
	t.Helper()
	in := make([][]byte, len(cases))
	for i, c := range cases {
		in[i] = c.payload
	}
	res, err := validateBytes(t, p, schema, in)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, cases, res)
}

func TestProtobufPlugin(t *testing.T) {
	p := loadPlugin(t)
	if d := p.Describe(); d.Name != "protobuf" || d.Kind != plugin.KindValidator || d.Version != "1.0.0" ||
		!strings.Contains(d.Description, "Protocol Buffers") {
		t.Fatalf("describe = %+v", d)
	}
	t.Run("proto3", func(t *testing.T) { runCases(t, p, shopProto, shopCases(t)) })
	t.Run("proto2", func(t *testing.T) { runCases(t, p, legacyProto, legacyCases(t)) })

	t.Run("editions", func(t *testing.T) { runCases(t, p, editionsProto, editionsCases) })

	t.Run("named message", func(t *testing.T) {
		item := messageType(t, envelopeOf(t, shopProto, "shop.Item"))
		if item.FullName() != "shop.Item" {
			t.Fatalf("envelope picked %s", item.FullName())
		}
		valid := marshal(t, msg(t, item, map[string]any{"sku": "A-1", "qty": int32(3), "price": 1.5}))
		unknown := cat(valid, protowire.AppendTag(nil, 4, protowire.VarintType), protowire.AppendVarint(nil, 1))
		cases := []payloadCase{{"item", valid, ""}, {"unknown", unknown, "Item: unknown field 4 (varint)"}}
		runCases(t, p, envelopeOf(t, shopProto, "shop.Item"), cases)
		runCases(t, p, envelopeOf(t, shopProto, ".shop.Item"), cases)
		// Nested message names work too; so does naming the first message.
		runCases(t, p, envelopeOf(t, shopProto, "shop.Order"), []payloadCase{{"order", marshal(t, msg(t, messageType(t, shopProto), orderFields())), ""}})
		runCases(t, p, envelopeOf(t, `syntax = "proto3"; package a; message Outer { message Inner { int32 x = 1; } }`, "a.Outer.Inner"),
			[]payloadCase{{"inner", []byte{0x08, 0x01}, ""}, {"inner, wrong type", []byte{0x0d, 0, 0, 0, 0}, "Inner.x: field 1 has wire type fixed32, but it is declared int32"}})
	})

	t.Run("schema errors", func(t *testing.T) {
		for _, tc := range []struct{ schema, want string }{
			{"", "schema: empty"},
			{`syntax = "proto3"; message M { int32 x = 1 }`, `schema: schema.proto:1:44: syntax error: expecting ';'`},
			{"syntax = \"proto3\";\nmessage M {\n  strin x = 1;\n}\n", `schema.proto:3:3: field M.x: unknown type strin`},
			{`syntax = "proto3"; import "other.proto"; message M {}`, "a schema must be self-contained"},
			{`syntax = "proto3"; package p; enum E { A = 0; }`, "schema: declares no message"},
			{envelopeOf(t, shopProto, "shop.Nope"), `schema: message "shop.Nope" is not declared`},
			{envelopeOf(t, shopProto, "shop.Status"), `schema: "shop.Status" is not a message`},
			{envelopeOf(t, "", "shop.Item"), `schema: the envelope has no "proto" source`},
			{`{"proto": "syntax = \"proto3\"; message M {}", "msg": "M"}`, `unknown field "msg"`},
			{`{"proto": 1}`, "the envelope"},
			{`{"proto": "syntax = \"proto3\"; message M {}"} x`, "data after the envelope"},
		} {
			_, err := validateBytes(t, p, tc.schema, [][]byte{{}})
			var ge *plugin.GuestError
			if !errors.As(err, &ge) || ge.Op != "compile" || !strings.Contains(ge.Msg, tc.want) {
				t.Errorf("schema %q: %v, want a compile error with %q", tc.schema, err, tc.want)
			} else if testing.Verbose() {
				t.Logf("%s", ge.Msg)
			}
		}
		if st := p.Stats(); st.Discarded != 0 {
			t.Fatalf("an instance was discarded: %+v", st)
		}
	})
}

// TestProtobufNative runs the cases through compile in this process: the
// plugin's logic, without the host.
func TestProtobufNative(t *testing.T) {
	for _, tc := range []struct {
		schema string
		cases  []payloadCase
	}{{shopProto, shopCases(t)}, {legacyProto, legacyCases(t)}, {editionsProto, editionsCases}} {
		s, err := compile([]byte(tc.schema))
		if err != nil {
			t.Fatal(err)
		}
		res := make([]plugin.Result, len(tc.cases))
		for i, c := range tc.cases {
			if err := s.Validate(c.payload); err != nil {
				res[i] = plugin.Result{Outcome: plugin.Invalid, Message: err.Error()}
			} else {
				res[i] = plugin.Result{Outcome: plugin.Valid}
			}
		}
		checkResults(t, tc.cases, res)
	}
}

// TestProtobufConformance runs the SDK's conformance kit on the plugin.
func TestProtobufConformance(t *testing.T) {
	plugintest.RunConformance(t, wasmPath, plugintest.Conformance{
		Schema:    `syntax = "proto2"; message P { required string name = 1; optional int32 age = 2; }`,
		Valid:     []string{"\x0a\x03Ada", "\x0a\x03Ada\x10\x24"},
		Invalid:   []string{"", "\x10\x24", "\x0a\x03Ada\x18\x01", "\x0a\x05Ada"},
		BadSchema: `syntax = "proto2"; message P { required strin name = 1; }`,
	})
}
