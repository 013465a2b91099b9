//go:build linux

package storage

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"go.etcd.io/raft/v3/raftpb"
)

// unwrittenBytes asks the file system (FS_IOC_FIEMAP) how many bytes of
// path lie in unwritten extents: blocks fallocate reserved that were
// never written, which make every fdatasync after a write into them
// convert extents. It skips the test where FIEMAP is not supported.
func unwrittenBytes(t *testing.T, path string) int64 {
	t.Helper()
	const (
		fsIocFiemap       = 0xC020660B // _IOWR('f', 11, struct fiemap)
		fiemapFlagSync    = 0x1
		fiemapExtentLast  = 0x1
		fiemapExtentUnwr  = 0x800
		headerSize        = 32
		extentSize        = 56
		extentsPerRequest = 64
	)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]uint64, (headerSize+extentsPerRequest*extentSize)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
	var unwritten int64
	for start := uint64(0); ; {
		clear(b)
		binary.NativeEndian.PutUint64(b[0:], start)
		binary.NativeEndian.PutUint64(b[8:], ^uint64(0)-start)
		binary.NativeEndian.PutUint32(b[16:], fiemapFlagSync)
		binary.NativeEndian.PutUint32(b[24:], extentsPerRequest)
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
			if errors.Is(errno, syscall.EOPNOTSUPP) || errors.Is(errno, syscall.ENOTTY) {
				t.Skipf("FIEMAP not supported on %s: %v", filepath.Dir(path), errno)
			}
			t.Fatalf("FIEMAP %s: %v", path, errno)
		}
		n := binary.NativeEndian.Uint32(b[20:])
		if n == 0 {
			return unwritten
		}
		for i := uint32(0); i < n; i++ {
			e := b[headerSize+int(i)*extentSize:]
			logical, length := binary.NativeEndian.Uint64(e[0:]), binary.NativeEndian.Uint64(e[16:])
			flags := binary.NativeEndian.Uint32(e[40:])
			if flags&fiemapExtentUnwr != 0 {
				unwritten += int64(length)
			}
			if flags&fiemapExtentLast != 0 {
				return unwritten
			}
			start = logical + length
		}
	}
}

// Every segment file the log makes, and a repaired tail, is written out
// to its end: no unwritten extents are left for fdatasync to convert.
// The control: a file that was only fallocated is all unwritten.
func TestSegmentsHaveNoUnwrittenExtents(t *testing.T) {
	dir := t.TempDir()
	const size = 4 << 20
	ctl := filepath.Join(dir, "control")
	f, err := os.Create(ctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := preallocate(f, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n := unwrittenBytes(t, ctl); n != size {
		t.Skipf("a fallocated file has %d unwritten bytes of %d: this file system does not keep unwritten extents", n, size)
	}
	os.Remove(ctl)

	s := openSmall(t, dir, size)
	if n := unwrittenBytes(t, lastSegmentPath(t, dir)); n != 0 {
		t.Fatalf("first segment: %d unwritten bytes", n)
	}
	big := raftpb.Entry{Term: 1, Data: make([]byte, 300<<10)}
	i := uint64(0)
	for !s.wal.asked() {
		i++
		big.Index = i
		if err := s.Save(raftpb.HardState{Term: 1, Commit: i}, []raftpb.Entry{big}, false); err != nil {
			t.Fatal(err)
		}
	}
	waitSpare(t, s.wal)
	spare := spareFiles(t, dir)[0]
	if n := unwrittenBytes(t, spare); n != 0 {
		t.Fatalf("spare: %d unwritten bytes", n)
	}
	for s.wal.segments() == 1 {
		i++
		big.Index = i
		if err := s.Save(raftpb.HardState{Term: 1, Commit: i}, []raftpb.Entry{big}, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := unwrittenBytes(t, lastSegmentPath(t, dir)); n != 0 {
		t.Fatalf("segment from the spare: %d unwritten bytes", n)
	}
	s.Close()

	// A torn tail cut off: the blocks past the cut are written zeros too.
	path := filepath.Join(t.TempDir(), segmentName(0, 1))
	if err := os.WriteFile(path, make([]byte, 8<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := repairTail(path, 5000, size); err != nil {
		t.Fatal(err)
	}
	if n := unwrittenBytes(t, path); n != 0 {
		t.Fatalf("repaired segment: %d unwritten bytes", n)
	}
}
