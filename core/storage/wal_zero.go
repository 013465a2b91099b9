package storage

import (
	"errors"
	"os"
	"syscall"
)

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
// Where it can, it writes with O_DIRECT (see appender) from one shared
// buffer of zeros: a buffered fill copied 64 MiB of zeros into the page
// cache, which under load cost the machine far more than the copy's size
// suggests, for pages the log's own direct writes never use.
//
// each, when not nil, runs after every chunk: the spare-segment goroutine
// flushes there (a fill never queues a whole segment of writeback in
// front of the log's own fdatasync) and stops early on Close. An error
// from it ends the fill.
func zeroFill(f *os.File, off, size int64, each func() error) error {
	if off >= size {
		return nil
	}
	w, buf := f, zeroChunkBuffer()
	if off%directBlock == 0 && size%directBlock == 0 {
		if d := directFile(f.Name()); d != nil {
			defer d.Close()
			w = d
		}
	}
	for off < size {
		n := min(int64(len(buf)), size-off)
		_, err := w.WriteAt(buf[:n], off)
		if err != nil && w != f && errors.Is(err, syscall.EINVAL) {
			w = f // the disk wants other alignment
			_, err = w.WriteAt(buf[:n], off)
		}
		if err != nil {
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
