//go:build !linux

package storage

import "os"

// fdatasync falls back to a full fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate extends f to size with zeros (a sparse file where the file
// system allows) so the rest of a segment reads as the end of its records;
// zeroFill then allocates the blocks.
func preallocate(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	return f.Truncate(size)
}
