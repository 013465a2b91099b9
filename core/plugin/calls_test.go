package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-cp/trellis/core/plugin"
)

const personSchema = `{
	"type": "object",
	"required": ["name", "age"],
	"properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}
}`

func payloads(n int, f func(i int) string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(f(i))
	}
	return out
}

func TestValidatorBatches(t *testing.T) {
	h, _ := testHost(t)
	p := load(t, h, "json", plugin.Manifest{})
	ctx := ctxT(t)
	for _, n := range []int{0, 1, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			// Every third payload is invalid in a different way.
			in := payloads(n, func(i int) string {
				switch i % 3 {
				case 1:
					return fmt.Sprintf(`{"name": "p%d", "age": -1}`, i)
				case 2:
					return `not json`
				}
				return fmt.Sprintf(`{"name": "p%d", "age": %d}`, i, i)
			})
			res, err := p.Validate(ctx, []byte(personSchema), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != n {
				t.Fatalf("%d results for %d payloads", len(res), n)
			}
			for i, r := range res {
				switch i % 3 {
				case 0:
					if !r.OK() {
						t.Fatalf("payload %d: %v %q", i, r.Outcome, r.Message)
					}
				case 1:
					if r.Outcome != plugin.Invalid || !strings.Contains(r.Message, "/age") {
						t.Fatalf("payload %d: %v %q", i, r.Outcome, r.Message)
					}
				case 2:
					if r.Outcome != plugin.Invalid || !strings.Contains(r.Message, "not JSON") {
						t.Fatalf("payload %d: %v %q", i, r.Outcome, r.Message)
					}
				}
			}
		})
	}
	t.Run("schema errors are data", func(t *testing.T) {
		for _, schema := range []string{`{`, `{"type": 12}`, `{"$ref": "http://example.com/s.json"}`} {
			_, err := p.Validate(ctx, []byte(schema), payloads(1, func(int) string { return "{}" }))
			var ge *plugin.GuestError
			if !errors.As(err, &ge) || ge.Op != "compile" {
				t.Fatalf("schema %s: %v", schema, err)
			}
			if err := p.CheckSchema(ctx, []byte(schema)); err == nil {
				t.Fatalf("CheckSchema(%s) = nil", schema)
			}
		}
		if err := p.CheckSchema(ctx, []byte(personSchema)); err != nil {
			t.Fatal(err)
		}
		if st := p.Stats(); st.Discarded != 0 {
			t.Fatalf("guest errors discarded instances: %+v", st)
		}
	})
	t.Run("wrong kind", func(t *testing.T) {
		if _, err := p.OpenConnector(ctx, nil); !errors.Is(err, plugin.ErrKind) {
			t.Fatalf("OpenConnector on a validator: %v", err)
		}
	})
}

// TestUndecidedVerdict: a validator that cannot judge a payload gives an
// undecided verdict with its reason, not invalid (the probe guest's
// "undecided" command returns validator.Undecided).
func TestUndecidedVerdict(t *testing.T) {
	h, _ := testHost(t)
	p := load(t, h, "probe", plugin.Manifest{})
	res, err := p.Validate(ctxT(t), []byte("{}"), payloads(3, func(i int) string {
		return []string{"valid", "invalid bad", "undecided cannot tell"}[i]
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []plugin.Result{{Outcome: plugin.Valid}, {Outcome: plugin.Invalid, Message: "bad"}, {Outcome: plugin.Undecided, Message: "cannot tell"}}
	for i, r := range res {
		if r != want[i] {
			t.Fatalf("payload %d: %v %q, want %v %q", i, r.Outcome, r.Message, want[i].Outcome, want[i].Message)
		}
	}
}

// TestShippedValidatorsJudge: the shipped Avro and Protobuf validators
// decide (valid or invalid, never undecided); their own tests in
// plugins/avro and plugins/protobuf cover what they accept.
func TestShippedValidatorsJudge(t *testing.T) {
	h, _ := testHost(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		name, schema   string
		valid, invalid []byte
	}{
		// "hi" as an Avro string: zig-zag length 2, then the bytes.
		{"avro", `"string"`, []byte{4, 'h', 'i'}, []byte{4, 'h', 'i', 0}},
		// Field 1 = 150 (varint), then the same with field 2, which M lacks.
		{"protobuf", `syntax = "proto3"; message M { int32 a = 1; }`, []byte{0x08, 0x96, 0x01}, []byte{0x10, 0x96, 0x01}},
	} {
		p := load(t, h, tc.name, plugin.Manifest{})
		res, err := p.Validate(ctx, []byte(tc.schema), [][]byte{tc.valid, tc.invalid})
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].OK() || res[1].Outcome != plugin.Invalid || res[1].Message == "" {
			t.Fatalf("%s: %+v", tc.name, res)
		}
	}
}

func records(from, n int, value func(i int) string) []plugin.Record {
	out := make([]plugin.Record, n)
	for i := range out {
		off := from + i
		out[i] = plugin.Record{
			Offset:      uint64(off),
			TimestampMs: int64(off) * 1000,
			Key:         []byte(fmt.Sprintf("k%d", off)),
			Headers:     []plugin.Header{{Key: "h", Value: []byte(fmt.Sprint(off))}},
			Value:       []byte(value(off)),
		}
	}
	return out
}

func guestMetric(t *testing.T, reg *prometheus.Registry, family, plugin, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["plugin"] == plugin && labels["name"] == name {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

func TestConnectorBatches(t *testing.T) {
	h, reg := testHost(t)
	p := load(t, h, "sink", plugin.Manifest{})
	ctx := ctxT(t)
	c, err := p.OpenConnector(ctx, []byte(`{"fail_value": "boom"}`))
	if err != nil {
		t.Fatal(err)
	}
	next, total := 0, 0
	for _, n := range []int{0, 1, 1000} {
		recs := records(next, n, func(off int) string { return fmt.Sprintf("v%d", off) })
		accepted, err := c.Write(ctx, recs)
		if err != nil || accepted != n {
			t.Fatalf("batch of %d: accepted %d, %v", n, accepted, err)
		}
		next += n
		total += n
	}
	if got := guestMetric(t, reg, "trellis_plugin_guest_gauge", "sink", "total"); got != float64(total) {
		t.Fatalf("plugin counted %v records, want %d", got, total)
	}
	if got := guestMetric(t, reg, "trellis_plugin_guest_counter_total", "sink", "batches"); got != 3 {
		t.Fatalf("plugin counted %v batches, want 3", got)
	}

	// A failing record: the batch is accepted up to it, as data.
	recs := records(next, 10, func(off int) string {
		if off == next+4 {
			return "boom"
		}
		return fmt.Sprintf("v%d", off)
	})
	accepted, err := c.Write(ctx, recs)
	var ge *plugin.GuestError
	if accepted != 4 || !errors.As(err, &ge) || ge.Op != "write" || !strings.Contains(ge.Msg, "asked to fail") {
		t.Fatalf("partial batch: accepted %d, %v", accepted, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := guestMetric(t, reg, "trellis_plugin_guest_counter_total", "sink", "closed"); got != 1 {
		t.Fatalf("close counted %v", got)
	}
	if _, err := c.Write(ctx, recs); !errors.Is(err, plugin.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if st := p.Stats(); st.InFlight != 0 || st.Discarded != 0 {
		t.Fatalf("stats after close: %+v", st)
	}

	t.Run("open refusals are data", func(t *testing.T) {
		for cfg, words := range map[string]string{
			`{"prefix": "refuse"}`: "prefix refuse refused",
			`{"colour": "red"}`:    "unknown key colour",
			`[1, 2]`:               "not a JSON object",
		} {
			_, err := p.OpenConnector(ctx, []byte(cfg))
			var ge *plugin.GuestError
			if !errors.As(err, &ge) || ge.Op != "open" || !strings.Contains(ge.Msg, words) {
				t.Fatalf("open %s: %v", cfg, err)
			}
		}
		if st := p.Stats(); st.InFlight != 0 {
			t.Fatalf("a refused open kept a reference: %+v", st)
		}
	})
	t.Run("wrong kind", func(t *testing.T) {
		if _, err := p.Validate(ctx, nil, nil); !errors.Is(err, plugin.ErrKind) {
			t.Fatalf("Validate on a connector: %v", err)
		}
	})
}

func TestConnectorsShareThePool(t *testing.T) {
	h, _ := testHost(t)
	p := load(t, h, "sink", plugin.Manifest{MaxInstances: 2})
	ctx := ctxT(t)
	a, err := p.OpenConnector(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.OpenConnector(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Both instances are pinned: a third connector waits for one.
	short, cancel := context.WithTimeout(ctx, 100e6)
	defer cancel()
	if _, err := p.OpenConnector(short, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third open with the pool pinned: %v", err)
	}
	a.Close(ctx)
	c, err := p.OpenConnector(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	b.Close(ctx)
}

// Nothing runs in a plugin between calls; the SDK lets a goroutine the
// call started run before the call returns.
func TestGoroutinesRunBeforeCallEnds(t *testing.T) {
	h, _ := testHost(t)
	p := load(t, h, "probe", plugin.Manifest{MaxInstances: 1})
	expect(t, probe1(t, p, "goroutines"), "ok 1")
	got := probe(t, p, "spawn", "spawn", "spawned")
	expect(t, got[2], "ok 0") // not yet: the call is still running
	expect(t, probe1(t, p, "spawned"), "ok 2")
}
