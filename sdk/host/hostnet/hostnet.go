// Package hostnet gives a plugin TCP connections made by the host: a Dial
// that returns a net.Conn, so client libraries that accept a dial function
// (database drivers, message-queue clients, an http.Transport's
// DialContext) work inside a plugin. The host checks the address against
// the manifest's allowed hosts.
//
// A connection may outlive the plugin call that opened it (a connector
// keeps one from open to close), but I/O happens only during calls: each
// read or write is bounded by the current call's deadline as well as by
// any deadline set on the connection.
package hostnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/hostcall"
)

// Dial connects to addr ("host:port") over TCP through the host.
func Dial(network, addr string) (net.Conn, error) {
	return Dialer{}.DialContext(context.Background(), network, addr)
}

// Dialer dials through the host. The zero value is ready.
type Dialer struct{}

// DialContext matches net.Dialer.DialContext. Only tcp networks are
// supported.
func (Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("hostnet: network %q not supported (tcp only)", network)}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := hostcall.TCPDial(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addrOf(addr), Err: err}
	}
	return &conn{h: h, remote: addrOf(addr)}, nil
}

type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

func addrOf(s string) net.Addr { return hostAddr(s) }

type conn struct {
	h      int32
	remote net.Addr
	closed bool
}

func (c *conn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := hostcall.TCPRead(c.h, p)
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.remote, Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *conn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	written := 0
	for written < len(p) {
		n, err := hostcall.TCPWrite(c.h, p[written:])
		written += n
		if err != nil {
			return written, &net.OpError{Op: "write", Net: "tcp", Addr: c.remote, Err: err}
		}
		if n == 0 {
			return written, io.ErrShortWrite
		}
	}
	return written, nil
}

func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return hostcall.TCPClose(c.h)
}

func (c *conn) LocalAddr() net.Addr  { return hostAddr("plugin") }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	return c.setDeadline(abi.DeadlineRead|abi.DeadlineWrite, t)
}
func (c *conn) SetReadDeadline(t time.Time) error  { return c.setDeadline(abi.DeadlineRead, t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(abi.DeadlineWrite, t) }

func (c *conn) setDeadline(which int32, t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	return hostcall.TCPSetDeadline(c.h, which, ns)
}
