package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/linkedin/goavro/v2"
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
	payload := personPayload(b)
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

func BenchmarkAvroWasm(b *testing.B) {
	p := loadPlugin(b)
	payload := personPayload(b)
	ctx := context.Background()
	for _, n := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := make([][]byte, n)
			for i := range in {
				in[i] = payload
			}
			check := func() {
				res, err := p.Plugin.Validate(ctx, []byte(personSchema), in)
				if err != nil || !res[0].OK() {
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
