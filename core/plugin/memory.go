package plugin

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Guest memory.
//
// wazero's default linear memory is a Go slice that memory.grow
// reallocates and copies. A Go guest grows its memory in 4 MiB heap
// blocks from its first instant, so starting one copied its memory again
// at every step (a few ms of a json.wasm start), and the node's GC
// counted every instance's memory as its own heap. Where the platform
// allows (memory_linux.go), each instance instead reserves address space
// for its whole limit (manifest memory_pages) at instantiation, and
// growing only extends the slice over pages the kernel zero-fills on
// first touch: nothing is copied and nothing is committed before the
// guest touches it.
//
// Such memory is not Go's, so the GC cannot keep it alive for code still
// using it: releasing it while a guest (or the host, copying into it) is
// using it would fault the whole process. wazero frees a module's memory
// when the module closes, which a forced plugin close (Plugin.Close past
// its deadline, closing the runtime) does while calls may still run. So
// memory is released only when its instance is not in use: an instance is
// in use from its creation until it enters the pool's idle set, and from
// leaving it until it goes back or is closed; a free that comes while it
// is in use is carried out when it stops being used.

// guestMemory is the linear memory of one instance.
type guestMemory struct {
	mu    sync.Mutex
	buf   []byte // the whole reservation; nil once released
	inUse bool
	freed bool // wazero freed it (the module closed)
}

// Reallocate implements experimental.LinearMemory: the first size bytes of
// the reservation, or nil past it (memory.grow fails).
func (m *guestMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	return m.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *guestMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freed = true
	if !m.inUse {
		m.release()
	}
}

func (m *guestMemory) release() {
	if m.buf != nil {
		unmapMemory(m.buf)
		m.buf = nil
	}
}

// use marks the memory in use, or reports false if it has been freed.
func (m *guestMemory) use() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed {
		return false
	}
	m.inUse = true
	return true
}

// unuse marks the memory not in use, releasing it if it was freed.
func (m *guestMemory) unuse() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inUse = false
	if m.freed {
		m.release()
	}
}

// withMemory returns ctx for instantiating in: its memory comes from
// mapMemory, in use from the start, and is kept in in.gmem.
func (in *instance) withMemory(ctx context.Context) context.Context {
	if !mappedMemory {
		return ctx
	}
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		buf, err := mapMemory(max)
		if err != nil {
			return nil // wazero fails the instantiation
		}
		in.gmem = &guestMemory{buf: buf, inUse: true}
		return in.gmem
	}))
}

// idle marks the instance not in use, before it enters the idle set.
func (in *instance) idle() {
	if in.gmem != nil {
		in.gmem.unuse()
	}
}

// use marks an instance taken from the idle set in use; false means its
// memory is gone (its runtime closed) and it must not be touched.
func (in *instance) use() bool {
	return in.gmem == nil || in.gmem.use()
}

// dropMemory releases the memory of an instance that failed to start.
func (in *instance) dropMemory() {
	if in.gmem != nil {
		in.gmem.Free()
		in.gmem.unuse()
	}
}
