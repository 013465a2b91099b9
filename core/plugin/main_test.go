package plugin_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// wasm holds the modules TestMain built from source: the shipped plugins,
// the example and the test guests in testdata/guests.
var wasm = map[string]string{}

var guestDirs = map[string]string{
	"json":     "../../plugins/json",
	"avro":     "../../plugins/avro",
	"protobuf": "../../plugins/protobuf",
	"webhook":  "../../examples/plugins/webhook",
	"probe":    "testdata/guests/probe",
	"sink":     "testdata/guests/sink",
	"empty":    "testdata/guests/empty",
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "trellis-plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, src := range guestDirs {
		out, err := plugintest.BuildTo(src, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		wasm[name] = out
	}
	return m.Run()
}

func readWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(wasm[name])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testHost is a host with its own metrics registry, logging to the test.
func testHost(t testing.TB) (*plugin.Host, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return plugintest.NewHost(t, plugin.Options{Metrics: reg}), reg
}

func load(t testing.TB, h *plugin.Host, name string, m plugin.Manifest) *plugin.Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), name, readWasm(t, name), m)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
