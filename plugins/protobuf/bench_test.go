package main

import (
	"testing"

	"github.com/trellis-cp/trellis/sdk/plugintest"
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
	plugintest.BenchNative(b, s.Validate, personPayload(b), batchSizes...)
}

func BenchmarkProtobufWasm(b *testing.B) {
	plugintest.BenchValidate(b, loadPlugin(b), []byte(personProto), personPayload(b), batchSizes...)
}
