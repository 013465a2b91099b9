package plugintest

import (
	"context"
	"fmt"
	"testing"
)

// BenchValidate benchmarks p validating payload against schema, one call
// per batch, as a sub-benchmark batch=N for each of sizes. Every record
// must be valid. Besides ns/op it reports ns/record, the figure to compare
// across batch sizes and with BenchNative.
func BenchValidate(b *testing.B, p *Plugin, schema, payload []byte, sizes ...int) {
	ctx := context.Background()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := make([][]byte, n)
			for i := range in {
				in[i] = payload
			}
			check := func() {
				res, err := p.Plugin.Validate(ctx, schema, in)
				if err != nil {
					b.Fatal(err)
				}
				for i, r := range res {
					if !r.OK() {
						b.Fatalf("record %d: %+v", i, r)
					}
				}
			}
			check() // compiles the schema in the instance, outside the timing
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				check()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// BenchNative benchmarks validate, a plugin's validation called natively
// in the test process, on payload n times per op for each of sizes, with
// the same sub-benchmark names and ns/record metric as BenchValidate, so
// that the two line up.
func BenchNative(b *testing.B, validate func([]byte) error, payload []byte, sizes ...int) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for range n {
					if err := validate(payload); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}
