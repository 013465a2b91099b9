//go:build linux && (amd64 || arm64)

package plugin

import "syscall"

const mappedMemory = true

// mapMemory reserves n bytes of zeroed, private memory. MAP_NORESERVE:
// the pages count against nothing until the guest touches them.
func mapMemory(n uint64) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
}

func unmapMemory(b []byte) { syscall.Munmap(b) }
