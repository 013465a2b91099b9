package plugin

import (
	"context"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// hostFunc is one function of the trellis_v1 host module. Host functions
// use wazero's stack-based API (api.GoModuleFunc): parameters and results
// are read and written in place on a []uint64, with no reflection and no
// allocation per call.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(in *instance, ctx context.Context, mod api.Module, stack []uint64)
}

func types(ts ...api.ValueType) []api.ValueType { return ts }

// hostFuncs is the whole trellis_v1 module; the hostfn_*.go files hold the
// functions.
var hostFuncs = []hostFunc{
	{abi.FnLastError, types(i32, i32), types(i32), hostLastError},
	{abi.FnLogEnabled, types(i32), types(i32), hostLogEnabled},
	{abi.FnLog, types(i32, i32, i32), nil, hostLog},
	{abi.FnConfigGet, types(i32, i32, i32, i32), types(i32), hostConfigGet},
	{abi.FnClockNow, nil, types(i64), hostClockNow},
	{abi.FnHTTPRequest, types(i32, i32), types(i32), hostHTTPRequest},
	{abi.FnHTTPResponse, types(i32, i32, i32), types(i32), hostHTTPResponse},
	{abi.FnHTTPBodyRead, types(i32, i32, i32), types(i32), hostHTTPBodyRead},
	{abi.FnHTTPClose, types(i32), types(i32), hostHTTPClose},
	{abi.FnTCPDial, types(i32, i32), types(i32), hostTCPDial},
	{abi.FnTCPRead, types(i32, i32, i32), types(i32), hostTCPRead},
	{abi.FnTCPWrite, types(i32, i32, i32), types(i32), hostTCPWrite},
	{abi.FnTCPSetDeadline, types(i32, i32, i64), types(i32), hostTCPSetDeadline},
	{abi.FnTCPClose, types(i32), types(i32), hostTCPClose},
	{abi.FnFileOpen, types(i32, i32, i32), types(i32), hostFileOpen},
	{abi.FnFileRead, types(i32, i32, i32), types(i32), hostFileRead},
	{abi.FnFileWrite, types(i32, i32, i32), types(i32), hostFileWrite},
	{abi.FnFileClose, types(i32), types(i32), hostFileClose},
	{abi.FnMetricCounterAdd, types(i32, i32, f64), types(i32), hostMetricCounterAdd},
	{abi.FnMetricGaugeSet, types(i32, i32, f64), types(i32), hostMetricGaugeSet},
}

// hostSignatures indexes hostFuncs for the import check at load.
var hostSignatures = func() map[string]signature {
	m := make(map[string]signature, len(hostFuncs))
	for _, f := range hostFuncs {
		m[f.name] = signature{f.params, f.results}
	}
	return m
}()

// instantiateHostModule defines trellis_v1 in a plugin's runtime. The
// functions find their instance in the call's context; a call without one
// (impossible through the pool) gets ErrnoInvalid rather than a panic.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.HostModule)
	for _, f := range hostFuncs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				in := instanceFrom(ctx)
				if in == nil {
					if len(f.results) > 0 {
						stack[0] = errnoResult(abi.ErrnoInvalid)
					}
					return
				}
				f.fn(in, ctx, mod, stack)
			}), f.params, f.results).
			WithName(f.name).
			Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// errnoResult encodes a negative i32 result on the stack.
func errnoResult(e abi.Errno) uint64 { return api.EncodeI32(int32(e)) }

// errno records msg for last_error and returns the code's stack value.
func (in *instance) errno(code abi.Errno, format string, args ...any) uint64 {
	in.lastErr = fmt.Sprintf(format, args...)
	return errnoResult(code)
}

// deny refuses an access the manifest does not grant: the plugin gets
// ErrnoDenied and the reason; the node logs one line and counts it.
func (in *instance) deny(op, format string, args ...any) uint64 {
	msg := fmt.Sprintf(format, args...)
	in.lastErr = msg
	in.p.logger.Warn("plugin access denied", "op", op, "reason", msg)
	in.p.host.metrics.denied.WithLabelValues(in.p.name, op).Inc()
	return errnoResult(abi.ErrnoDenied)
}

// read returns a view of guest memory, valid until the host function
// returns (the guest cannot grow memory while it waits for us).
func read(mod api.Module, ptr, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	return mod.Memory().Read(ptr, n)
}

// writeLimited is the (buf, limit) convention: data is written only if it
// fits, and the real length is returned either way so the guest can retry
// with a bigger buffer.
func (in *instance) writeLimited(mod api.Module, buf, limit uint32, data []byte) uint64 {
	if len(data) > math.MaxInt32 {
		return in.errno(abi.ErrnoLimit, "value of %d bytes is too large", len(data))
	}
	if uint64(len(data)) <= uint64(limit) && len(data) > 0 {
		if !mod.Memory().Write(buf, data) {
			return in.errno(abi.ErrnoInvalid, "buffer %#x+%d is outside memory", buf, limit)
		}
	}
	return api.EncodeI32(int32(len(data)))
}

func hostLastError(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	stack[0] = in.writeLimited(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), []byte(in.lastErr))
}

func hostClockNow(_ *instance, _ context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(timeNow().UnixNano())
}

// readBuffer is the guest buffer of a read call (ptr and limit at
// stack[1:3]), at most maxChunk long. When ok is false the call is already
// answered: an error for a buffer outside memory, 0 for an empty one.
func (in *instance) readBuffer(mod api.Module, stack []uint64) (buf []byte, ok bool) {
	buf, ok = read(mod, api.DecodeU32(stack[1]), min(api.DecodeU32(stack[2]), maxChunk))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "buffer outside memory")
		return nil, false
	}
	if len(buf) == 0 {
		stack[0] = 0
		return nil, false
	}
	return buf, true
}
