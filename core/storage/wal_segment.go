package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A segment is one file of the write-ahead log, named
// <seq>-<index>.wal with both numbers as 16 hex digits: seq orders the
// files, index is the first entry index the segment was opened for (a
// hint for people reading the directory; replay does not trust it). A new
// segment starts with the log's current snapshot and hard state, so the
// segments before it can be deleted once the snapshot covers their
// entries.
type segment struct {
	seq   uint64
	first uint64
	path  string
	// maxIndex is the highest entry index the segment holds (0: none).
	maxIndex uint64
}

const (
	segmentExt = ".wal"
	// segmentTmpExt marks a segment being created; open removes leftovers.
	segmentTmpExt = ".wal.tmp"
)

func segmentName(seq, first uint64) string {
	return fmt.Sprintf("%016x-%016x%s", seq, first, segmentExt)
}

func parseSegmentName(name string) (seq, first uint64, ok bool) {
	if len(name) != 16+1+16+len(segmentExt) || !strings.HasSuffix(name, segmentExt) || name[16] != '-' {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(name[:33], "%016x-%016x", &seq, &first); err != nil {
		return 0, 0, false
	}
	return seq, first, true
}

// isBadgerFile reports names only a Badger directory holds.
func isBadgerFile(name string) bool {
	switch name {
	case "MANIFEST", "KEYREGISTRY", "DISCARD":
		return true
	}
	return strings.HasSuffix(name, ".vlog") || strings.HasSuffix(name, ".sst")
}

// listSegments finds the segments in dir, oldest first, and removes
// segments left half-created by a crash. It refuses a directory that holds
// a Badger raft log (the format before the write-ahead log) and a sequence
// with a hole in it.
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range entries {
		name := e.Name()
		if isBadgerFile(name) {
			return nil, fmt.Errorf("it holds a Badger raft log (%s), the format of an older Trellis; "+
				"this version keeps the raft log as a write-ahead log and cannot read it: move the data directory away "+
				"(there is no migration)", name)
		}
		if strings.HasSuffix(name, segmentTmpExt) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		seq, first, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		segs = append(segs, &segment{seq: seq, first: first, path: filepath.Join(dir, name)})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
	for i := 1; i < len(segs); i++ {
		if segs[i].seq != segs[i-1].seq+1 {
			return nil, fmt.Errorf("segment %d is missing between %s and %s", segs[i-1].seq+1,
				filepath.Base(segs[i-1].path), filepath.Base(segs[i].path))
		}
	}
	return segs, nil
}

// createSegment writes a new segment on the caller's goroutine: a .tmp
// file preallocated to size and, when fill, filled with zeros (zeroFill),
// then installed by installSegment. A new log's first segment comes from
// it filled; a rollover that finds no spare ready (wal_spare.go) uses it
// unfilled. The returned file is open for writing at len(head).
func createSegment(dir string, seq, first uint64, size int64, head []byte, fill bool) (*segment, *os.File, error) {
	path := filepath.Join(dir, segmentName(seq, first))
	tmp := strings.TrimSuffix(path, segmentExt) + segmentTmpExt
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("create segment %s: %w", filepath.Base(path), err)
	}
	err = preallocate(f, size)
	if err == nil && fill {
		err = zeroFill(f, 0, size, nil)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, nil, fmt.Errorf("create segment %s: %w", filepath.Base(path), err)
	}
	seg, err := installSegment(dir, f, seq, first, head)
	if err != nil {
		return nil, nil, err
	}
	return seg, f, nil
}

// installSegment makes f, a preallocated .tmp file in dir, the segment seq:
// it writes head (the records every segment starts with) at its start,
// syncs it, renames it into place and syncs the directory. A crash before
// the rename leaves a .tmp file that listSegments removes; one after it
// leaves a segment holding at least its head. On failure f is closed (and
// removed when not yet renamed); on success it stays open for writing at
// len(head).
func installSegment(dir string, f *os.File, seq, first uint64, head []byte) (*segment, error) {
	path := filepath.Join(dir, segmentName(seq, first))
	tmp := f.Name()
	fail := func(err error) (*segment, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create segment %s: %w", filepath.Base(path), err)
	}
	if len(head) > 0 {
		if _, err := f.WriteAt(head, 0); err != nil {
			return fail(err)
		}
	}
	if err := fdatasync(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("create segment %s: %w", filepath.Base(path), err)
	}
	return &segment{seq: seq, first: first, path: path}, nil
}

// repairTail cuts a torn tail off the last segment: everything from off
// on becomes zeros again (truncate, preallocate anew, then write real
// zeros as createSegment does), durably.
func repairTail(path string, off, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(off); err != nil {
		return err
	}
	if err := preallocate(f, size); err != nil {
		return err
	}
	if err := zeroFill(f, off, size, nil); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes renames, creations and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
