//go:build wasip1

package connector

import (
	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/guest"
)

//go:wasmexport trellis_v1_connector_open
func exportOpen(ptr, n uint32) uint64 {
	buf := guest.RespBuf()
	in, err := guest.Input(ptr, n)
	if err == nil {
		var h uint32
		if h, err = open(in); err == nil {
			return guest.Pack(guest.Respond(abi.AppendU32(abi.OK(buf), h)))
		}
	}
	return guest.Pack(guest.Respond(abi.Error(buf, err.Error())))
}

//go:wasmexport trellis_v1_connector_write
func exportWrite(handle, ptr, n uint32) uint64 {
	buf := guest.RespBuf()
	in, err := guest.Input(ptr, n)
	accepted := 0
	if err == nil {
		accepted, err = write(handle, in)
	}
	if err == nil {
		return guest.Pack(guest.Respond(abi.AppendU32(abi.OK(buf), uint32(accepted))))
	}
	buf = abi.AppendU32(append(buf, abi.StatusError), uint32(accepted))
	return guest.Pack(guest.Respond(append(buf, err.Error()...)))
}

//go:wasmexport trellis_v1_connector_close
func exportClose(handle uint32) uint64 {
	buf := guest.RespBuf()
	if err := closeHandle(handle); err != nil {
		return guest.Pack(guest.Respond(abi.Error(buf, err.Error())))
	}
	return guest.Pack(guest.Respond(abi.OK(buf)))
}
