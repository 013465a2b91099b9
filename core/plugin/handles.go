package plugin

import (
	"net"
	"net/http"
	"os"
	"time"

	"github.com/trellis-cp/trellis/sdk/abi"
)

type handleKind uint8

const (
	handleHTTP handleKind = iota + 1
	handleTCP
	handleFile
)

// handle is one resource a plugin instance holds open through the host.
type handle struct {
	kind handleKind
	// callScoped resources close when the call that opened them ends: an
	// HTTP response is read within its call, and a plugin that forgets to
	// close one must not pin a connection.
	callScoped bool

	resp *http.Response
	head []byte

	conn          net.Conn
	readDeadline  time.Time
	writeDeadline time.Time

	file *os.File
}

func (h *handle) close() {
	switch {
	case h.resp != nil:
		h.resp.Body.Close()
	case h.conn != nil:
		h.conn.Close()
	case h.file != nil:
		h.file.Close()
	}
}

// handles is an instance's table of open resources, numbered from 1.
// Connections and files outlive calls (a connector keeps them from open to
// close); everything closes with the instance.
type handles struct {
	m    map[int32]*handle
	next int32
	max  int
}

func (hs *handles) add(h *handle) (int32, abi.Errno) {
	if hs.m == nil {
		hs.m = map[int32]*handle{}
	}
	if len(hs.m) >= hs.max {
		h.close()
		return 0, abi.ErrnoLimit
	}
	for {
		hs.next++
		if hs.next <= 0 {
			hs.next = 1
		}
		if _, used := hs.m[hs.next]; !used {
			break
		}
	}
	hs.m[hs.next] = h
	return hs.next, 0
}

func (hs *handles) get(id int32, kind handleKind) *handle {
	h := hs.m[id]
	if h == nil || h.kind != kind {
		return nil
	}
	return h
}

func (hs *handles) remove(id int32, kind handleKind) bool {
	h := hs.get(id, kind)
	if h == nil {
		return false
	}
	delete(hs.m, id)
	h.close()
	return true
}

func (hs *handles) endCall() {
	for id, h := range hs.m {
		if h.callScoped {
			delete(hs.m, id)
			h.close()
		}
	}
}

func (hs *handles) closeAll() {
	for id, h := range hs.m {
		delete(hs.m, id)
		h.close()
	}
}
