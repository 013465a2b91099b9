package interrupt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/core/plugin/internal/interrupt"
	w "github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
)

// run instantiates code with a tick that counts, and an env.seven import.
func run(t *testing.T, code []byte, ticks *int) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	if _, err := rt.NewHostModuleBuilder(interrupt.TickModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) { *ticks++ }), nil, nil).
		Export(interrupt.TickName).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, s []uint64) { s[0] = 7 }), nil, []api.ValueType{api.ValueTypeI32}).
		Export("seven").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, code)
	if err != nil {
		t.Fatalf("instrumented module does not instantiate: %v", err)
	}
	return mod
}

// spin: loop: n = n - 1; br_if loop (n != 0)
var spinBody = []byte{0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b}

func TestTicksEveryBudgetIterations(t *testing.T) {
	m := &w.Module{}
	m.Memory(1)
	m.Func("spin", w.Types(w.I32), nil, spinBody)
	code, err := interrupt.Instrument(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ticks := 0
	mod := run(t, code, &ticks)
	const n = 10 * interrupt.Budget
	if _, err := mod.ExportedFunction("spin").Call(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if ticks < 9 || ticks > 10 {
		t.Fatalf("%d ticks for %d iterations, want %d", ticks, n, n/interrupt.Budget)
	}
}

// A module with the things that carry function indices: an imported
// function, calls, an exported function, a start function, a table with an
// element segment, call_indirect, ref.func in a global, and a name section.
// Its results must be the same before and after instrumentation.
func TestIndicesRenumbered(t *testing.T) {
	m := &w.Module{}
	seven := m.Import("env", "seven", nil, w.Types(w.I32))
	m.Memory(1)
	// f1: seven() + 1
	f1 := m.Func("", nil, w.Types(w.I32), w.Cat(w.Call(seven), w.I32Const(1), w.I32Add))
	// f2: f1() * 2, exported
	f2 := m.Func("double", nil, w.Types(w.I32), w.Cat(w.Call(f1), w.I32Const(2), w.I32Mul))
	// f3: call_indirect table[0] (f2) with type () -> i32, after a loop
	m.Func("indirect", nil, w.Types(w.I32), w.Cat(
		[]byte{0x03, 0x40, 0x0b},                // an empty loop: one check
		w.I32Const(0), []byte{0x11, 0x00, 0x00}, // call_indirect type 0 (() -> i32) table 0
	))
	// start: stores f1() at address 0
	start := m.Func("", nil, nil, w.Cat(w.I32Const(0), w.Call(f1), w.I32Store(0)))
	m.Table(1)
	m.Elem(0, f2)
	m.Start(start)
	m.Names(map[uint32]string{f1: "one", f2: "two"})
	orig := m.Bytes()

	for _, code := range [][]byte{orig, mustInstrument(t, orig)} {
		ticks := 0
		mod := run(t, code, &ticks)
		for fn, want := range map[string]uint64{"double": 16, "indirect": 16} {
			res, err := mod.ExportedFunction(fn).Call(context.Background())
			if err != nil || res[0] != want {
				t.Fatalf("%s() = %v, %v; want %d", fn, res, err, want)
			}
		}
		if name := mod.ExportedFunction("double").Definition().Name(); name != "two" {
			t.Fatalf("the name section names double %q, want two", name)
		}
		if b, _ := mod.Memory().ReadUint32Le(0); b != 8 {
			t.Fatalf("start function stored %d, want 8", b)
		}
	}
}

func mustInstrument(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := interrupt.Instrument(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRefusals(t *testing.T) {
	reserved := &w.Module{}
	reserved.Import(interrupt.TickModule, "tick", nil, nil)
	if _, err := interrupt.Instrument(reserved.Bytes()); !errors.Is(err, interrupt.ErrReserved) {
		t.Fatalf("reserved import: %v", err)
	}
	// global.set 0 in a module with no globals: after instrumentation it
	// would reach the budget.
	sneaky := &w.Module{}
	sneaky.Func("f", nil, nil, w.Cat(w.I32Const(1), []byte{0x24, 0x00}))
	if _, err := interrupt.Instrument(sneaky.Bytes()); err == nil || !strings.Contains(err.Error(), "global index 0") {
		t.Fatalf("out-of-range global: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm\x01\x00\x00\x00\x0a\x05\x01\x03\x00\xff\x0b")} {
		if _, err := interrupt.Instrument(bad); err == nil {
			t.Fatalf("instrumented % x", bad)
		}
	}
}
