package plugin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// instance is one instantiated copy of a plugin. It is used by one
// goroutine at a time (the pool hands it out exclusively), so its fields
// need no lock; host functions run on that same goroutine, inside a call.
// Only closing is set from elsewhere.
type instance struct {
	p   *Plugin
	id  uint64
	mod api.Module
	mem api.Memory
	fn  struct {
		initialize, describe       api.Function
		alloc, free                api.Function
		open, write, close         api.Function
		compile, validate, release api.Function
	}
	stack [4]uint64 // CallWithStack's parameters and results

	// ctx is what wazero passes to host functions: it carries the
	// instance and never changes, so a call allocates no context.
	ctx context.Context
	// The current call: the caller's context, the deadline (the earlier
	// of the caller's and the call timeout), and a context for blocking
	// host functions made on first use (see callContext).
	callerCtx   context.Context
	deadline    time.Time
	callerFirst bool
	hostCtx     context.Context
	hostCancel  context.CancelFunc

	// Deadline enforcement (see deadline.go): interrupted is set by tick
	// when it stops a call; closing asks tick to stop the running call.
	interrupted atomic.Bool
	closing     atomic.Bool

	// inPtr/inCap are the host-owned guest buffer inputs are copied into,
	// from trellis_v1_alloc and kept until it is too small: a batch call is
	// then one copy and one export call.
	inPtr, inCap uint32
	batch        abi.BatchWriter
	out          []byte // the last response, copied out of guest memory
	verdicts     []abi.Verdict

	lastErr string
	handles handles
	// schemas maps a schema document to its compiled handle here.
	schemas map[string]uint32

	stdout, stderr *lineLog

	// gmem is the instance's memory when the host maps it (memory.go).
	gmem *guestMemory

	// dead is why the instance must not be used again ("" while healthy):
	// trap, timeout, memory, protocol.
	dead string
}

// instKey carries the calling instance in the context wazero passes to
// host functions.
type instKey struct{}

func instanceFrom(ctx context.Context) *instance {
	in, _ := ctx.Value(instKey{}).(*instance)
	return in
}

// newInstance instantiates the module, then runs its initialiser
// (_initialize: Go's c-shared runtime must start before any export) as an
// ordinary call, so the deadline machinery already covers it: an init
// function that never returns is stopped like any other call.
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	in := &instance{p: p, id: p.pool.nextID.Add(1)}
	in.ctx = context.WithValue(context.Background(), instKey{}, in)
	in.handles.max = p.manifest.MaxHandles
	in.stdout = newLineLog(p, "stdout", -4)
	in.stderr = newLineLog(p, "stderr", 4)
	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: many instances of one module in one runtime
		WithStartFunctions(). // _initialize runs below, under a deadline
		WithStdout(in.stdout).WithStderr(in.stderr).
		WithSysWalltime().WithSysNanotime().
		WithNanosleep(in.nanosleep).
		WithRandSource(rand.Reader)
	mod, err := p.rt.InstantiateModule(in.withMemory(in.ctx), p.compiled, cfg)
	if err != nil {
		in.dropMemory() // wazero does not free it on every failure
		return nil, p.startError(err, in)
	}
	in.mod = mod
	in.mem = mod.Memory()
	if in.mem == nil {
		mod.Close(context.Background())
		return nil, fmt.Errorf("plugin %s: %w: no memory", p.name, ErrABI)
	}
	f := &in.fn
	f.initialize = mod.ExportedFunction(abi.ExportInitialize)
	f.describe = mod.ExportedFunction(abi.ExportDescribe)
	f.alloc = mod.ExportedFunction(abi.ExportAlloc)
	f.free = mod.ExportedFunction(abi.ExportFree)
	f.open = mod.ExportedFunction(abi.ExportConnectorOpen)
	f.write = mod.ExportedFunction(abi.ExportConnectorWrite)
	f.close = mod.ExportedFunction(abi.ExportConnectorClose)
	f.compile = mod.ExportedFunction(abi.ExportValidatorCompile)
	f.validate = mod.ExportedFunction(abi.ExportValidatorValidate)
	f.release = mod.ExportedFunction(abi.ExportValidatorRelease)
	p.host.metrics.instances.WithLabelValues(p.name).Inc()
	if f.initialize != nil {
		if err := in.callFor(ctx, "initialize", f.initialize, nil, p.startTimeout()); err != nil {
			in.close()
			return nil, p.startError(err, in)
		}
	}
	return in, nil
}

// minStartTimeout bounds a new instance's initialisation when the call
// timeout is shorter: Go's runtime start and a plugin's init functions
// take milliseconds normally but much longer on a loaded machine, and a
// slow start is not the plugin misbehaving the way a slow call is.
const minStartTimeout = 30 * time.Second

func (p *Plugin) startTimeout() time.Duration { return max(p.manifest.CallTimeout, minStartTimeout) }

// startError explains a failed start, with the plugin's last stderr lines
// (a Go panic in init prints its message there).
func (p *Plugin) startError(err error, in *instance) error {
	if errors.Is(err, ErrTimeout) {
		return fmt.Errorf("plugin %s: %w: initialisation took longer than %s", p.name, ErrStart, p.startTimeout())
	}
	msg := err.Error()
	if i := strings.Index(msg, ErrTrap.Error()+": "); i >= 0 {
		msg = msg[i+len(ErrTrap.Error())+2:] // the cause, without our own prefix
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("exited with code %d during initialisation", exit.ExitCode())
	}
	if strings.Contains(msg, "memory") && !strings.Contains(msg, "memory_pages") {
		msg += fmt.Sprintf(" (memory_pages is %d)", p.manifest.MemoryPages)
	}
	if tail := in.stderr.tailText(); tail != "" && !strings.Contains(msg, tail) {
		msg += ": " + tail
	}
	return fmt.Errorf("plugin %s: %w: %s", p.name, ErrStart, msg)
}

// call runs one export under the manifest's call timeout.
func (in *instance) call(ctx context.Context, op string, fn api.Function, stack []uint64) error {
	return in.callFor(ctx, op, fn, stack, in.p.manifest.CallTimeout)
}

// callFor runs one export with a deadline of timeout, or the caller's
// deadline if that is earlier. A trap, exit or passed deadline marks the
// instance dead and returns an error wrapping ErrTrap or ErrTimeout (or
// the caller's context error).
func (in *instance) callFor(ctx context.Context, op string, fn api.Function, stack []uint64, timeout time.Duration) error {
	if fn == nil {
		return fmt.Errorf("plugin %s: %w: no export for %s", in.p.name, ErrKind, op)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("plugin %s: %s: %w", in.p.name, op, err)
	}
	in.begin(ctx, timeout)
	in.stdout.startCall()
	in.stderr.startCall()
	err := fn.CallWithStack(in.ctx, stack)
	interrupted := in.end()
	in.handles.endCall()
	if interrupted {
		in.dead = "timeout"
		if in.callerFirst {
			return fmt.Errorf("plugin %s: %s: %w", in.p.name, op, context.DeadlineExceeded)
		}
		return fmt.Errorf("plugin %s: %s: %w after %s", in.p.name, op, ErrTimeout, timeout)
	}
	if err == nil {
		return nil
	}
	return in.fail(op, err)
}

func (in *instance) fail(op string, err error) error {
	p := in.p
	in.dead = "trap"
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg := fmt.Sprintf("exited with code %d", exit.ExitCode())
		if tail := in.stderr.tailText(); tail != "" {
			msg += ": " + tail
		}
		return fmt.Errorf("plugin %s: %s: %w: %s", p.name, op, ErrTrap, msg)
	}
	msg := firstLine(err.Error())
	if tail := in.stderr.tailText(); tail != "" {
		// Go's runtime says why it gave up (out of memory, a fatal
		// error) on stderr before it executes unreachable.
		msg += ": " + tail
	}
	return fmt.Errorf("plugin %s: %s: %w: %s", p.name, op, ErrTrap, msg)
}

// protocol marks the instance dead for breaking the ABI.
func (in *instance) protocol(op, format string, args ...any) error {
	in.dead = "protocol"
	return fmt.Errorf("plugin %s: %s: %w: %s", in.p.name, op, ErrProtocol, fmt.Sprintf(format, args...))
}

// input copies data into the host-owned guest buffer, growing it first if
// needed, and returns the buffer's address.
func (in *instance) input(ctx context.Context, op string, data []byte) (uint32, error) {
	n := uint64(len(data))
	if limit := uint64(in.p.manifest.MemoryPages) << 16 / 2; n > limit {
		return 0, fmt.Errorf("plugin %s: %s: input of %d bytes exceeds half the plugin's memory limit", in.p.name, op, n)
	}
	if n > uint64(in.inCap) {
		if in.inPtr != 0 {
			in.stack[0] = uint64(in.inPtr)
			if err := in.call(ctx, "free", in.fn.free, in.stack[:1]); err != nil {
				return 0, err
			}
			in.inPtr, in.inCap = 0, 0
		}
		size := uint64(64 << 10)
		for size < n {
			size *= 2
		}
		in.stack[0] = size
		if err := in.call(ctx, "alloc", in.fn.alloc, in.stack[:1]); err != nil {
			return 0, err
		}
		ptr := uint32(in.stack[0])
		if ptr == 0 {
			return 0, in.protocol(op, "trellis_v1_alloc(%d) returned 0", size)
		}
		in.inPtr, in.inCap = ptr, uint32(size)
	}
	if n > 0 && !in.mem.Write(in.inPtr, data) {
		return 0, in.protocol(op, "buffer from trellis_v1_alloc at %#x is outside memory", in.inPtr)
	}
	return in.inPtr, nil
}

// response copies the response a packed i64 points to out of guest memory
// (the view would break if the guest grew its memory) and splits it.
func (in *instance) response(op string, packed uint64) (status byte, payload []byte, err error) {
	ptr, n := abi.Unpack(packed)
	if n > in.p.manifest.MaxOutputBytes {
		return 0, nil, in.protocol(op, "response of %d bytes exceeds max_output_bytes %d", n, in.p.manifest.MaxOutputBytes)
	}
	view, ok := in.mem.Read(ptr, n)
	if !ok {
		return 0, nil, in.protocol(op, "response at %#x+%d is outside memory", ptr, n)
	}
	in.out = append(in.out[:0], view...)
	status, payload, err = abi.SplitResponse(in.out)
	if err != nil {
		return 0, nil, in.protocol(op, "%v", err)
	}
	return status, payload, nil
}

// guestError builds the error for a StatusError response.
func (in *instance) guestError(op string, msg []byte) error {
	return &GuestError{Plugin: in.p.name, Op: op, Msg: string(msg)}
}

// overHighWater reports whether the instance's memory grew past the
// manifest's high-water mark; such an instance is replaced after its call.
func (in *instance) overHighWater() bool {
	return in.mem.Size() > in.p.manifest.MemoryHighWaterPages<<16
}

// close releases the instance and everything it holds open. A call still
// running (a forced plugin close) is interrupted first.
func (in *instance) close() {
	in.handles.closeAll()
	if in.mod != nil {
		in.closing.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		in.mod.Close(ctx)
		cancel()
		in.p.host.metrics.instances.WithLabelValues(in.p.name).Dec()
		in.mod = nil
	}
	in.idle() // releases the memory wazero freed on close
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
