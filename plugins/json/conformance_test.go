package main

import (
	"testing"

	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// TestConformance runs the SDK's conformance kit on the plugin built to
// WebAssembly.
func TestConformance(t *testing.T) {
	plugintest.RunConformance(t, plugintest.Build(t, "."), plugintest.Conformance{
		Schema:    `{"type":"object","required":["id"],"properties":{"id":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}}}`,
		Valid:     []string{`{"id":1}`, `{"id":2,"tags":["a","b"]}`},
		Invalid:   []string{`{}`, `{"id":"one"}`, `{"id":1,"tags":[1]}`, `[]`, `not json`},
		BadSchema: `{"type":"objekt"}`,
	})
}
