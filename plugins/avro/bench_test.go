package main

import (
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// The per-record cost of checking one small record, natively (the
// plugin's compile and Validate called in this process) and through the
// .wasm in the real host, in batches of 1 and 100:
//
//	go test -run '^$' -bench . -benchtime 2s ./plugins/avro/

const personSchema = `{
	"type": "record", "name": "Person", "namespace": "bench",
	"fields": [
		{"name": "name", "type": "string"},
		{"name": "age", "type": "int"},
		{"name": "email", "type": ["null", "string"], "default": null},
		{"name": "tags", "type": {"type": "array", "items": "string"}}
	]
}`

func personPayload(b testing.TB) []byte {
	return encode(b, personSchema, map[string]any{
		"name": "Ada Lovelace", "age": int32(36),
		"email": goavro.Union("string", "ada@example.com"),
		"tags":  []any{"math", "engines"},
	})
}

var batchSizes = []int{1, 100}

func BenchmarkAvroNative(b *testing.B) {
	s, err := compile([]byte(personSchema))
	if err != nil {
		b.Fatal(err)
	}
	plugintest.BenchNative(b, s.Validate, personPayload(b), batchSizes...)
}

func BenchmarkAvroWasm(b *testing.B) {
	plugintest.BenchValidate(b, loadPlugin(b), []byte(personSchema), personPayload(b), batchSizes...)
}
