// Package hostcall wraps the trellis_v1 host functions in Go signatures:
// slices instead of pointer and length pairs, errors instead of negative
// codes, and the (buf, limit) retry for values of unknown size. The public
// packages (sdk/host, hosthttp, hostnet) build on it.
//
// Outside GOOS=wasip1 every call fails with ErrNotInPlugin, so packages
// using it still build (and their portable parts test) on the host.
package hostcall

import (
	"errors"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// Error is a host function's refusal or failure. Errno says what kind;
// Msg is the host's explanation (for a denial: what the manifest lacks).
type Error struct {
	Op    string
	Errno abi.Errno
	Msg   string
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return "trellis host: " + e.Op + ": " + e.Msg
	}
	return "trellis host: " + e.Op + ": " + e.Errno.String()
}

// Is matches the sentinel errors of sdk/host by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Msg == "" && t.Errno == e.Errno
}

// Timeout makes a host timeout satisfy net.Error-style checks.
func (e *Error) Timeout() bool { return e.Errno == abi.ErrnoTimeout }

// ErrNotInPlugin is returned by every call outside a wasip1 plugin.
var ErrNotInPlugin = errors.New("trellis host: host functions are only available inside a plugin (GOOS=wasip1)")
