package main

import (
	"context"
	"fmt"
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
	payload := []byte(personDoc)
	for _, n := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for range n {
					if err := s.Validate(payload); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

func BenchmarkJSONWasm(b *testing.B) {
	p := plugintest.Load(b, plugintest.Build(b, "."), plugin.Manifest{})
	ctx := context.Background()
	for _, n := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := make([][]byte, n)
			for i := range in {
				in[i] = []byte(personDoc)
			}
			check := func() {
				res, err := p.Plugin.Validate(ctx, []byte(personSchema), in)
				if err != nil || !res[0].OK() || !res[n-1].OK() {
					b.Fatal(err, res)
				}
			}
			check() // compiles the schema in the instance
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				check()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}
