//go:build linux

package storage

import (
	"os"
	"syscall"
)

// openDirect opens path for writing with O_DIRECT: writes go from the
// caller's memory to the disk without passing through the page cache.
// It returns nil where the file system refuses the flag (tmpfs, some
// network file systems); the caller then writes through its ordinary
// descriptor.
func openDirect(path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}
