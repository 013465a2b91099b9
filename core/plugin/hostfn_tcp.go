package plugin

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// hostTCPDial connects to an allowed host:port. The connection outlives the
// call (a connector keeps one from open to close) and closes with the
// instance at the latest.
func hostTCPDial(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	b, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "address outside memory")
		return
	}
	addr := string(b)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		stack[0] = in.errno(abi.ErrnoInvalid, "address %q is not host:port", addr)
		return
	}
	if !hostAllowed(in.p.manifest.AllowedHosts, host, port) {
		stack[0] = in.deny("tcp", "dial %s: not in allowed_hosts", addr)
		return
	}
	var d net.Dialer
	conn, err := d.DialContext(in.callContext(), "tcp", addr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			stack[0] = in.errno(abi.ErrnoTimeout, "dial %s: call deadline passed", addr)
		} else {
			stack[0] = in.errno(abi.ErrnoIO, "dial %s: %v", addr, err)
		}
		return
	}
	id, code := in.handles.add(&handle{kind: handleTCP, conn: conn})
	if code != 0 {
		stack[0] = in.errno(code, "too many open handles (max_handles %d)", in.handles.max)
		return
	}
	stack[0] = api.EncodeI32(id)
}

// earlier is the earlier of the call's deadline and the plugin's own
// (zero: none).
func earlier(call, own time.Time) time.Time {
	if own.IsZero() || call.Before(own) {
		return call
	}
	return own
}

func (in *instance) tcpErr(op string, err error) uint64 {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return in.errno(abi.ErrnoTimeout, "tcp %s: deadline passed", op)
	}
	return in.errno(abi.ErrnoIO, "tcp %s: %v", op, err)
}

// hostTCPRead reads straight into the guest's buffer; 0 means EOF.
func hostTCPRead(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleTCP)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no TCP connection %d", api.DecodeI32(stack[0]))
		return
	}
	buf, ok := in.readBuffer(mod, stack)
	if !ok {
		return
	}
	h.conn.SetReadDeadline(earlier(in.deadline, h.readDeadline))
	n, err := h.conn.Read(buf)
	switch {
	case n > 0:
		stack[0] = api.EncodeI32(int32(n))
	case err == io.EOF:
		stack[0] = 0
	default:
		stack[0] = in.tcpErr("read", err)
	}
}

// hostTCPWrite writes from the guest's buffer.
func hostTCPWrite(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleTCP)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no TCP connection %d", api.DecodeI32(stack[0]))
		return
	}
	buf, ok := read(mod, api.DecodeU32(stack[1]), min(api.DecodeU32(stack[2]), maxChunk))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "buffer outside memory")
		return
	}
	h.conn.SetWriteDeadline(earlier(in.deadline, h.writeDeadline))
	n, err := h.conn.Write(buf)
	if n == 0 && err != nil {
		stack[0] = in.tcpErr("write", err)
		return
	}
	stack[0] = api.EncodeI32(int32(n))
}

// hostTCPSetDeadline records the plugin's read and/or write deadline; the
// call's own deadline still applies on top of it.
func hostTCPSetDeadline(in *instance, _ context.Context, _ api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleTCP)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no TCP connection %d", api.DecodeI32(stack[0]))
		return
	}
	which := api.DecodeI32(stack[1])
	var t time.Time
	if ns := int64(stack[2]); ns != 0 {
		t = time.Unix(0, ns)
	}
	if which&^(abi.DeadlineRead|abi.DeadlineWrite) != 0 || which == 0 {
		stack[0] = in.errno(abi.ErrnoInvalid, "deadline selector %d", which)
		return
	}
	if which&abi.DeadlineRead != 0 {
		h.readDeadline = t
	}
	if which&abi.DeadlineWrite != 0 {
		h.writeDeadline = t
	}
	stack[0] = 0
}

// hostTCPClose closes a connection.
func hostTCPClose(in *instance, _ context.Context, _ api.Module, stack []uint64) {
	if !in.handles.remove(api.DecodeI32(stack[0]), handleTCP) {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no TCP connection %d", api.DecodeI32(stack[0]))
		return
	}
	stack[0] = 0
}
