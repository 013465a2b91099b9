package storage

import "os"

// zeroChunk is how much zeroFill writes at a time.
const zeroChunk = 1 << 20

// zeroFill writes real zeros over f from off up to size. preallocate alone
// is not enough: on ext4 and XFS fallocate leaves the blocks as unwritten
// extents, and every fdatasync after a write into one must also convert
// the extent and commit the journal. Zeros written once (and synced) turn
// each later fdatasync in the segment into a pure data flush: a 4 KiB
// write + fdatasync measured ~120 µs wall and ~75 µs CPU on ext4 instead
// of ~195 µs and ~125 µs. Where fallocate is missing, the writes allocate
// the blocks of what would otherwise be a sparse file.
//
// each, when not nil, runs after every chunk: the spare-segment goroutine
// flushes there (a fill never queues a whole segment of writeback in
// front of the log's own fdatasync) and stops early on Close. An error
// from it ends the fill.
func zeroFill(f *os.File, off, size int64, each func() error) error {
	if off >= size {
		return nil
	}
	buf := make([]byte, min(zeroChunk, size-off))
	for off < size {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
		if each != nil {
			if err := each(); err != nil {
				return err
			}
		}
	}
	return nil
}
