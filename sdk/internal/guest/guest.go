// Package guest holds the guest side of the ABI that every plugin shares:
// the one registered description, the buffers the host allocates in guest
// memory, and the response buffer each entry point answers with.
//
// The exports themselves (trellis_v1_describe, _alloc, _free) are in
// exports_wasip1.go; this file is portable so it can be unit tested on the
// host.
package guest

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// SDKName identifies this SDK in a plugin's description.
const SDKName = "trellis-go-sdk/v1"

var (
	desc       *abi.Description
	descJSON   []byte
	registered string // the package that registered, for the duplicate message

	// allocs keeps every buffer the host asked for reachable until it frees
	// it: the host holds only its address, and Go's GC must not reclaim it.
	allocs = map[uint32][]byte{}

	// resp is the last response, kept reachable until the next call.
	resp []byte
)

// Register records the plugin's description. A plugin registers exactly
// once, from an init function (main never runs in a reactor module); a
// second registration is a programming error and panics, which the host
// reports as a load failure.
func Register(by string, d abi.Description) {
	if desc != nil {
		panic(fmt.Sprintf("trellis sdk: %s.Register called, but %s.Register already registered %q: a plugin has one kind and registers once", by, registered, desc.Name))
	}
	d.ABIVersion = abi.Version
	d.SDK = SDKName
	if d.Version == "" {
		d.Version = moduleVersion()
	}
	desc = &d
	registered = by
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("trellis sdk: description of %q does not encode: %v", d.Name, err))
	}
	descJSON = b
}

// Kind returns the registered kind, or "" before registration.
func Kind() abi.Kind {
	if desc == nil {
		return ""
	}
	return desc.Kind
}

// Describe returns the description JSON. With nothing registered it
// returns a description without a name or kind, which the host refuses
// with a message that points at Register.
func Describe() []byte {
	if descJSON == nil {
		b, _ := json.Marshal(abi.Description{ABIVersion: abi.Version, SDK: SDKName,
			Description: "nothing registered: call connector.Register or validator.Register from an init function"})
		return b
	}
	return descJSON
}

// Respond keeps b as the current response (the host reads it after the
// export returns) and returns it.
func Respond(b []byte) []byte {
	resp = b
	return b
}

// RespBuf returns the previous response's storage for reuse; the host has
// read it, since a new call has begun.
func RespBuf() []byte { return resp[:0] }

// Alloc makes a host-owned buffer of n bytes, keyed by its address.
func Alloc(n uint32, addr func([]byte) uint32) uint32 {
	if n == 0 {
		n = 1
	}
	b := make([]byte, n)
	p := addr(b)
	allocs[p] = b
	return p
}

// Free releases a buffer from Alloc.
func Free(p uint32) { delete(allocs, p) }

// Input returns n bytes of the host-owned buffer at p. The ABI has the host
// pass only pointers it got from trellis_v1_alloc, so a lookup finds them
// without converting an integer to a pointer; anything else is refused.
func Input(p, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	b, ok := allocs[p]
	if !ok || uint64(n) > uint64(len(b)) {
		return nil, fmt.Errorf("trellis sdk: host passed %d bytes at %#x, which is not a buffer from trellis_v1_alloc", n, p)
	}
	return b[:n:n], nil
}

// Recover turns a panic in plugin code into an error, so that an author's
// bug is an error response rather than the end of the instance.
func Recover(errp *error) {
	if r := recover(); r != nil {
		*errp = fmt.Errorf("panic: %v\n%s", r, trimStack(debug.Stack()))
	}
}

func trimStack(s []byte) []byte {
	const max = 2048
	if len(s) > max {
		return s[:max]
	}
	return s
}

func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.0.0"
}
