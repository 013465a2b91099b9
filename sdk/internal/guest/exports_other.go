//go:build !wasip1

package guest

import "github.com/trellis-cp/trellis/sdk/abi"

// Addr stands in for the guest address on the host, where the SDK only runs
// in unit tests: buffers are numbered instead.
func Addr(b []byte) uint32 {
	nextAddr += 16
	return nextAddr
}

var nextAddr uint32

// Pack is the wasip1 Pack's counterpart for host-side tests.
func Pack(b []byte) uint64 { return abi.Pack(0, uint32(len(b))) }
