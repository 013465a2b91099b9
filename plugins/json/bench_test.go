package main

import (
	"testing"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// The per-record cost of checking one small JSON object, natively (the
// plugin's compile and Validate called in this process) and through the
// .wasm in the real host, in batches of 1 and 100, like the avro and
// protobuf plugins' benchmarks (test/pluginbench prints the three side by
// side). Both go through the fast path (fast.go); BenchmarkJSONLibraryNative
// is the library alone, natively, what the plugin cost before it:
//
//	go test -run '^$' -bench . -benchtime 2s ./plugins/json/

const (
	personSchema = `{
	"type": "object",
	"required": ["name", "age"],
	"properties": {
		"name": {"type": "string", "minLength": 1},
		"age": {"type": "integer", "minimum": 0},
		"email": {"type": ["string", "null"]},
		"tags": {"type": "array", "items": {"type": "string"}}
	}
}`
	personDoc = `{"name": "Ada Lovelace", "age": 36, "email": "ada@example.com", "tags": ["math", "engines"]}`
)

var batchSizes = []int{1, 100}

func BenchmarkJSONNative(b *testing.B) {
	benchNative(b, true)
}

func BenchmarkJSONLibraryNative(b *testing.B) {
	benchNative(b, false)
}

func benchNative(b *testing.B, withFast bool) {
	s, err := compileWith([]byte(personSchema), withFast)
	if err != nil {
		b.Fatal(err)
	}
	plugintest.BenchNative(b, s.Validate, []byte(personDoc), batchSizes...)
}

func BenchmarkJSONWasm(b *testing.B) {
	p := plugintest.Load(b, plugintest.Build(b, "."), plugin.Manifest{})
	plugintest.BenchValidate(b, p, []byte(personSchema), []byte(personDoc), batchSizes...)
}
