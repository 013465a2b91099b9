package schema

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// Payloads are built by hand from the encodings' specs, so the test does
// not share a library with the plugins it checks.
const (
	avroSchema = `{"type":"record","name":"Person","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}`
	// name "Ada" (zigzag length 6, then the bytes), age 36 (zigzag 72).
	avroAda = "\x06Ada\x48"

	protoSchema = `syntax = "proto3";
package people;
message Person { string name = 1; int32 age = 2; }
message Badge { int64 id = 1; }`
	// field 1 (LEN) "Ada", field 2 (VARINT) 36.
	protoAda = "\x0a\x03Ada\x10\x24"
	// Badge id 7.
	protoBadge = "\x08\x07"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestEachType: each shipped type with valid and invalid payloads and a
// schema that does not compile, created on one node and validated on
// another.
func TestEachType(t *testing.T) {
	c := start(t, 3)
	c.create(1, "default", "person-avro", "avro", avroSchema)
	c.create(2, "default", "person-proto", "protobuf", protoSchema)
	c.ok(3, http.MethodPost, "/api/cluster/schema/create", map[string]any{"tenant": "default",
		"schema_name": "badge-proto", "schema_type": "protobuf", "schema": protoSchema, "message": "people.Badge"}, nil)
	if p := c.schemas(1, "filter_field=name&filter_values=badge-proto"); p.TotalCount != 1 || p.Data[0].Message != "people.Badge" {
		t.Fatalf("named message not listed: %+v", p)
	}

	for _, tc := range []struct {
		schema, payload string
		valid           bool
		want            string
	}{
		{"person-avro", avroAda, true, ""},
		{"person-avro", avroAda + "x", false, "trailing"},
		{"person-avro", "\x06Ad", false, ""},
		{"person-avro", "", false, ""},
		{"person-proto", protoAda, true, ""},
		{"person-proto", "\x0a\x03Ada\x18\x01", false, "unknown"}, // field 3 is not in Person
		{"person-proto", "\x0a\x05Ada", false, ""},                // truncated
		{"person-proto", "\x08\x07", false, ""},                   // field 1 as a varint: wrong wire type
		{"badge-proto", protoBadge, true, ""},
		{"badge-proto", protoAda, false, ""}, // a Person is not a Badge
	} {
		for i := 2; i <= 3; i++ {
			v := c.validate(i, map[string]any{"tenant": "default", "schema_name": tc.schema, "payload_base64": b64(tc.payload)})
			if v.Valid != tc.valid {
				t.Fatalf("%s %q on node %d: %+v, want valid=%v", tc.schema, tc.payload, i, v, tc.valid)
			}
			if !tc.valid && (len(v.Errors) != 1 || v.Errors[0].Undecided || v.Errors[0].Message == "" ||
				!strings.Contains(strings.ToLower(v.Errors[0].Message), tc.want)) {
				t.Fatalf("%s %q: errors %+v, want one invalid verdict mentioning %q", tc.schema, tc.payload, v.Errors, tc.want)
			}
		}
	}

	// Schemas that do not compile are 400s carrying the compiler's words.
	for _, bad := range []struct{ typ, schema, want string }{
		{"avro", `{"type":"record","name":"P","fields":[{"name":"a","type":"strin"}]}`, "strin"},
		{"avro", `not json`, ""},
		{"protobuf", `syntax = "proto3"; message P { strin name = 1; }`, "strin"},
		{"protobuf", `syntax = "proto3"; import "other.proto"; message P {}`, "other.proto"},
		{"json", `{"type": 5}`, ""},
	} {
		r := c.do(1, http.MethodPost, "/api/cluster/schema/create", map[string]any{"tenant": "default",
			"schema_name": "bad", "schema_type": bad.typ, "schema": bad.schema})
		c.fail(r, http.StatusBadRequest, "the "+bad.typ+" validator does not accept this schema: ")
		if !strings.Contains(string(r.body), bad.want) {
			t.Fatalf("%s %s: %s does not carry %q", bad.typ, bad.schema, r.body, bad.want)
		}
	}
	r := c.do(1, http.MethodPost, "/api/cluster/schema/create", map[string]any{"tenant": "default",
		"schema_name": "bad", "schema_type": "protobuf", "schema": protoSchema, "message": "people.Nobody"})
	c.fail(r, http.StatusBadRequest, "people.Nobody")

	// A topic bound to an Avro and a Protobuf schema: the Avro datum is
	// not a Person message (its first byte is no valid field tag).
	c.bind(1, "default", "person-avro", "people/#")
	c.bind(2, "default", "person-proto", "people/+")
	v := c.validate(3, map[string]any{"tenant": "default", "topic_name": "people/ada", "payload_base64": b64(avroAda)})
	if v.Valid || len(v.Checked) != 2 || len(v.Errors) != 1 || v.Errors[0].Schema != "person-proto" {
		t.Fatalf("avro payload on a topic bound to avro and protobuf: %+v", v)
	}
}
