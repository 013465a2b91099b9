//go:build wasip1

package guest

import (
	"runtime"
	"unsafe"

	"github.com/trellis-cp/trellis/sdk/abi"
)

//go:wasmexport trellis_v1_describe
func describe() uint64 { return Pack(Respond(Describe())) }

//go:wasmexport trellis_v1_alloc
func alloc(n uint32) uint32 { return Alloc(n, Addr) }

//go:wasmexport trellis_v1_free
func free(p uint32) { Free(p) }

// Addr is the linear-memory address of b's first byte (b is not empty).
func Addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// Pack returns b's address and length as one i64, after letting any
// goroutine the call started run: nothing in the guest runs between calls
// (golang/go#65199). The yield is skipped when the export's own goroutine
// is the only one, which is the common case and saves a trip through the
// scheduler on every call.
func Pack(b []byte) uint64 {
	if runtime.NumGoroutine() > 1 {
		runtime.Gosched()
	}
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(Addr(b), uint32(len(b)))
}
