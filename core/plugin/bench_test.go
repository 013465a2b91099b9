package plugin_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/plugin/internal/interrupt"
	"github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// Benchmarks of the host's costs. Run them one at a time on a quiet
// machine, e.g.
//
//	go test -run '^$' -bench . -benchtime 2s ./core/plugin/
//
// ns/record is the time per record of a batch call; per-batch overhead is
// the ns/op of the 1-record batch.

func benchPayloads(n int, s string) [][]byte {
	return payloads(n, func(int) string { return s })
}

func benchValidate(b *testing.B, p *plugin.Plugin, schema []byte, payload string) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := benchPayloads(n, payload)
			ctx := context.Background()
			if _, err := p.Validate(ctx, schema, in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Validate(ctx, schema, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// BenchmarkCallRaw measures the host alone: a hand-written plugin whose
// validate touches no payload.
func BenchmarkCallRaw(b *testing.B) {
	h, _ := testHost(b)
	p, err := h.Load(context.Background(), "raw", wasmgen.Plugin(wasmgen.Desc("raw", "validator", 1), "").Bytes(), plugin.Manifest{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	benchValidate(b, p, []byte("{}"), "0123456789012345678901234567890123456789")
}

// BenchmarkCallGo is the same through a Go plugin and the SDK: the empty
// plugin's validate returns nil for every record.
func BenchmarkCallGo(b *testing.B) {
	h, _ := testHost(b)
	p := load(b, h, "empty", plugin.Manifest{})
	benchValidate(b, p, []byte("{}"), "0123456789012345678901234567890123456789")
}

func BenchmarkConnectorWrite(b *testing.B) {
	h, _ := testHost(b)
	p := load(b, h, "sink", plugin.Manifest{})
	ctx := context.Background()
	c, err := p.OpenConnector(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	recs := records(0, 100, func(off int) string { return fmt.Sprintf("v%d", off) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
}

const (
	benchSchema = `{
	"type": "object",
	"required": ["name", "age"],
	"properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}
}`
	benchDoc = `{"name": "Ada Lovelace", "age": 36}`
)

// BenchmarkJSONSchema compares the json plugin in wasm (its fast path for
// this schema, plugins/json/fast.go) with the JSON Schema library called
// natively: what a Go program would otherwise run.
func BenchmarkJSONSchema(b *testing.B) {
	b.Run("wasm", func(b *testing.B) {
		h, _ := testHost(b)
		p := load(b, h, "json", plugin.Manifest{})
		benchValidate(b, p, []byte(benchSchema), benchDoc)
	})
	b.Run("native", func(b *testing.B) {
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(benchSchema)))
		c := jsonschema.NewCompiler()
		c.AddResource("s.json", doc)
		sch, err := c.Compile("s.json")
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
				in := benchPayloads(n, benchDoc)
				b.ReportAllocs()
				for b.Loop() {
					for _, p := range in {
						v, err := jsonschema.UnmarshalJSON(bytes.NewReader(p))
						if err != nil || sch.Validate(v) != nil {
							b.Fatal("invalid")
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			})
		}
	})
}

// BenchmarkLoad measures loading json.wasm (6 MB) and the empty plugin
// (3 MB): cold (compiling) and cached (a restart: a new host reading the
// compilation cache from disk). compile-ms and instantiate-ms split the
// load (LoadStats); the rest is checks, the host modules and describe.
func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{"json", "empty"} {
		wasmBytes := readWasm(b, name)
		b.Run(name+"/cold", func(b *testing.B) {
			var st plugin.LoadStats
			for b.Loop() {
				h, err := plugin.NewHost(plugin.Options{Logger: plugintest.Logger(b)})
				if err != nil {
					b.Fatal(err)
				}
				p, err := h.Load(context.Background(), name, wasmBytes, plugin.Manifest{})
				if err != nil {
					b.Fatal(err)
				}
				st.Compile += p.LoadStats().Compile
				st.Instantiate += p.LoadStats().Instantiate
				h.Close(context.Background())
			}
			reportLoad(b, st)
		})
		b.Run(name+"/cached", func(b *testing.B) {
			dir := b.TempDir()
			warm, _ := plugin.NewHost(plugin.Options{CacheDir: dir, Logger: plugintest.Logger(b)})
			if _, err := warm.Load(context.Background(), name, wasmBytes, plugin.Manifest{}); err != nil {
				b.Fatal(err)
			}
			warm.Close(context.Background())
			var st plugin.LoadStats
			var load time.Duration
			for b.Loop() {
				h, err := plugin.NewHost(plugin.Options{CacheDir: dir, Logger: plugintest.Logger(b)})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				p, err := h.Load(context.Background(), name, wasmBytes, plugin.Manifest{})
				if err != nil {
					b.Fatal(err)
				}
				load += time.Since(start)
				st.Compile += p.LoadStats().Compile
				st.Instantiate += p.LoadStats().Instantiate
				h.Close(context.Background())
			}
			reportLoad(b, st)
			// ns/op also counts the new host and closing it; load-ms is
			// Load alone, what a restart waits for.
			b.ReportMetric(float64(load.Nanoseconds())/float64(b.N)/1e6, "load-ms")
		})
	}
}

// reportLoad reports the mean compile and first-instance times of a
// BenchmarkLoad run.
func reportLoad(b *testing.B, sum plugin.LoadStats) {
	n := float64(b.N) * 1e6
	b.ReportMetric(float64(sum.Compile.Nanoseconds())/n, "compile-ms")
	b.ReportMetric(float64(sum.Instantiate.Nanoseconds())/n, "instantiate-ms")
}

// BenchmarkInstantiate starts instances of a loaded plugin (the pool's
// warm-up and replacement cost).
func BenchmarkInstantiate(b *testing.B) {
	for _, name := range []string{"json", "sink"} {
		b.Run(name, func(b *testing.B) {
			h, _ := testHost(b)
			wasmBytes := readWasm(b, name)
			for b.Loop() {
				p, err := h.Load(context.Background(), name, wasmBytes, plugin.Manifest{WarmInstances: 5, MaxInstances: 5})
				if err != nil {
					b.Fatal(err)
				}
				st := p.LoadStats()
				b.ReportMetric(float64((st.Instantiate+st.Warm).Microseconds())/5000, "ms/instance")
				p.Close(context.Background())
			}
		})
	}
}

// BenchmarkFirstValidate measures the first Validate call on a fresh json
// instance: the plugin compiles JSON Schema's meta-schemas on first use
// (plugins/json/internal/jsonschema), then the schema, then validates one
// record. ns/op includes the load; first-validate-ms is the call alone.
func BenchmarkFirstValidate(b *testing.B) {
	h, _ := testHost(b)
	wasmBytes := readWasm(b, "json")
	ctx := context.Background()
	in := benchPayloads(1, benchDoc)
	var first time.Duration
	for b.Loop() {
		p, err := h.Load(ctx, "json", wasmBytes, plugin.Manifest{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := p.Validate(ctx, []byte(benchSchema), in); err != nil {
			b.Fatal(err)
		}
		first += time.Since(start)
		p.Close(ctx)
	}
	b.ReportMetric(float64(first.Nanoseconds())/float64(b.N)/1e6, "first-validate-ms")
}

// spinModule exports spin(n): a loop of n iterations that calls nothing,
// and nop(): nothing at all.
func spinModule() []byte {
	m := &wasmgen.Module{}
	m.Memory(1)
	// loop: n = n - 1; br_if loop (n != 0)
	m.Func("spin", wasmgen.Types(wasmgen.I32), nil, []byte{
		0x03, 0x40, // loop
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, // local.get 0; i32.const 1; i32.sub; local.tee 0
		0x0d, 0x00, // br_if 0
		0x0b, // end
	})
	m.Func("nop", nil, nil, nil)
	return m.Bytes()
}

// BenchmarkTermination compares ways to keep a call stoppable on a loop
// of a million iterations and on an empty call: none at all (a loop can
// never be stopped, and stalls the Go runtime), wazero's
// WithCloseOnContextDone, and the loop instrumentation the host uses
// (internal/interrupt).
func BenchmarkTermination(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []string{"none", "closeOnContextDone", "instrumented"} {
		code := spinModule()
		cfg := wazero.NewRuntimeConfig()
		switch mode {
		case "closeOnContextDone":
			cfg = cfg.WithCloseOnContextDone(true)
		case "instrumented":
			var err error
			if code, err = interrupt.Instrument(code); err != nil {
				b.Fatal(err)
			}
		}
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		rt.NewHostModuleBuilder(interrupt.TickModule).NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}), nil, nil).
			Export(interrupt.TickName).Instantiate(ctx)
		mod, err := rt.Instantiate(ctx, code)
		if err != nil {
			b.Fatal(err)
		}
		spin, nop := mod.ExportedFunction("spin"), mod.ExportedFunction("nop")
		b.Run(mode+"/spin1e6", func(b *testing.B) {
			stack := []uint64{1_000_000}
			for b.Loop() {
				stack[0] = 1_000_000
				if err := spin.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/call", func(b *testing.B) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			for b.Loop() {
				if err := nop.CallWithStack(cctx, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		rt.Close(ctx)
	}
}
