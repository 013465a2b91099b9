package plugin

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/core/plugin/internal/interrupt"
)

// Deadlines.
//
// Load instruments every module (internal/interrupt) so that each loop
// calls the host's tick every interrupt.Budget iterations. tick is where a
// call's deadline is checked (past it, tick panics and wazero unwinds the
// guest: the instance is discarded) and, being a real call into Go, where
// the Go runtime can preempt the goroutine: without it a guest in a loop
// would hold up every garbage collection's stop-the-world, and so the
// whole node.
//
// This replaces wazero's WithCloseOnContextDone, which does both at every
// loop iteration and function entry and starts a goroutine per call: on Go
// guests several times their run time (BenchmarkTermination in this
// package). Here a call pays one clock read, and a loop iteration a few
// instructions.
//
// Blocking host functions get the same deadline through callContext, and
// a plugin's sleep (WASI poll_oneoff) ends at it, so a guest waiting in the
// host also returns in time and reaches a tick.

// errInterrupted is what tick panics with; wazero turns it into the
// call's error.
var errInterrupted = errors.New("plugin call interrupted at its deadline")

// begin starts a call's deadline.
func (in *instance) begin(ctx context.Context, timeout time.Duration) {
	in.callerCtx = ctx
	in.deadline = time.Now().Add(timeout)
	in.callerFirst = false
	if d, ok := ctx.Deadline(); ok && d.Before(in.deadline) {
		in.deadline, in.callerFirst = d, true
	}
}

// end finishes a call and reports whether tick interrupted it.
func (in *instance) end() (interrupted bool) {
	if in.hostCancel != nil {
		in.hostCancel()
		in.hostCtx, in.hostCancel = nil, nil
	}
	in.callerCtx = nil
	return in.interrupted.Load()
}

// tick is the injected host function. It runs on the calling goroutine,
// so it reads the deadline without a lock; closing is set by other
// goroutines (a forced close).
func tick(ctx context.Context, _ api.Module, _ []uint64) {
	in := instanceFrom(ctx)
	if in == nil {
		return
	}
	if in.closing.Load() || time.Now().After(in.deadline) {
		in.interrupted.Store(true)
		panic(errInterrupted)
	}
}

// instantiateTickModule defines the injected import in a plugin's runtime.
func instantiateTickModule(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(interrupt.TickModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(tick), nil, nil).
		Export(interrupt.TickName).
		Instantiate(ctx)
	return err
}

// callContext is the context for a blocking host function: the caller's,
// bounded by the call's deadline, carrying the instance. It is made on
// first use in a call, so calls that never block pay nothing for it.
func (in *instance) callContext() context.Context {
	if in.hostCtx == nil {
		parent := in.callerCtx
		if parent == nil {
			parent = context.Background()
		}
		ctx, cancel := context.WithDeadline(parent, in.deadline)
		in.hostCtx, in.hostCancel = context.WithValue(ctx, instKey{}, in), cancel
	}
	return in.hostCtx
}

// nanosleep is the plugin's sleep (time.Sleep, timers): real, but never
// past the call's deadline.
func (in *instance) nanosleep(ns int64) {
	d := time.Duration(ns)
	if !in.deadline.IsZero() {
		d = min(d, time.Until(in.deadline))
	}
	if d > 0 {
		time.Sleep(d)
	}
}
