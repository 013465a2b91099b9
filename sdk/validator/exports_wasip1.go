//go:build wasip1

package validator

import (
	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/guest"
)

//go:wasmexport trellis_v1_validator_compile
func exportCompile(ptr, n uint32) uint64 {
	buf := guest.RespBuf()
	in, err := guest.Input(ptr, n)
	if err == nil {
		var h uint32
		if h, err = compile(in); err == nil {
			return guest.Pack(guest.Respond(abi.AppendU32(abi.OK(buf), h)))
		}
	}
	return guest.Pack(guest.Respond(abi.Error(buf, err.Error())))
}

//go:wasmexport trellis_v1_validator_validate
func exportValidate(handle, ptr, n uint32) uint64 {
	buf := guest.RespBuf()
	in, err := guest.Input(ptr, n)
	if err == nil {
		var out []byte
		if out, err = validate(handle, in, abi.OK(buf)); err == nil {
			return guest.Pack(guest.Respond(out))
		}
	}
	return guest.Pack(guest.Respond(abi.Error(buf[:0], err.Error())))
}

//go:wasmexport trellis_v1_validator_release
func exportRelease(handle uint32) uint64 {
	buf := guest.RespBuf()
	if err := release(handle); err != nil {
		return guest.Pack(guest.Respond(abi.Error(buf, err.Error())))
	}
	return guest.Pack(guest.Respond(abi.OK(buf)))
}
