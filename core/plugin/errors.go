package plugin

import (
	"context"
	"errors"
	"fmt"
)

// Errors a caller can test with errors.Is. Load errors wrap ErrBadModule or
// ErrABI; call errors wrap ErrTimeout, ErrTrap, ErrProtocol or ErrClosed,
// or are a *GuestError when the plugin itself reported a failure.
var (
	// ErrBadModule: the bytes are not a WebAssembly module wazero accepts.
	ErrBadModule = errors.New("not a valid WebAssembly module")
	// ErrABI: a module, but not a Trellis ABI v1 plugin (another ABI
	// version, missing exports, unknown imports, a bad description).
	ErrABI = errors.New("not a Trellis ABI v1 plugin")
	// ErrStart: the module would not start (its initialiser trapped or
	// exited, or it needs more memory than the manifest allows).
	ErrStart = errors.New("plugin failed to start")
	// ErrKind: a call for another kind (Validate on a connector).
	ErrKind = errors.New("wrong plugin kind for this call")
	// ErrClosed: the plugin was closed or replaced and has no calls left.
	ErrClosed = errors.New("plugin closed")
	// ErrTimeout: the call passed the manifest's call timeout; the
	// instance was discarded.
	ErrTimeout = errors.New("plugin call timed out")
	// ErrTrap: the instance trapped or exited; it was discarded.
	ErrTrap = errors.New("plugin instance failed")
	// ErrProtocol: the plugin answered something the ABI does not allow
	// (a response outside its memory, too large, malformed).
	ErrProtocol = errors.New("plugin broke the ABI")
)

// GuestError is a failure the plugin reported as data: a config it
// refused, a schema that does not compile, a write that failed. The
// instance is healthy.
type GuestError struct {
	Plugin string
	// Op is the entry point: open, write, close, compile, validate, release.
	Op  string
	Msg string
}

func (e *GuestError) Error() string {
	return fmt.Sprintf("plugin %s: %s: %s", e.Plugin, e.Op, e.Msg)
}

func isGuestError(err error) bool {
	var g *GuestError
	return errors.As(err, &g)
}

func isTimeout(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
