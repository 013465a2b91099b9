package main

import (
	"context"
	"fmt"
	"testing"
)

// The per-record cost of checking one small message, natively (the
// plugin's compile and Validate called in this process) and through the
// .wasm in the real host, in batches of 1 and 100:
//
//	go test -run '^$' -bench . -benchtime 2s ./plugins/protobuf/

const personProto = `syntax = "proto3";
package bench;

message Person {
  string name = 1;
  int32 age = 2;
  string email = 3;
  repeated string tags = 4;
}
`

func personPayload(b testing.TB) []byte {
	return marshal(b, msg(b, messageType(b, personProto), map[string]any{
		"name": "Ada Lovelace", "age": int32(36), "email": "ada@example.com",
		"tags": []any{"math", "engines"},
	}))
}

var batchSizes = []int{1, 100}

func BenchmarkProtobufNative(b *testing.B) {
	s, err := compile([]byte(personProto))
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

func BenchmarkProtobufWasm(b *testing.B) {
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
				res, err := p.Plugin.Validate(ctx, []byte(personProto), in)
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
