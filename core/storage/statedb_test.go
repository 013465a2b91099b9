package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func openState(t *testing.T, dir string) *StateDB {
	t.Helper()
	s, err := OpenStateDB(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func setAt(t *testing.T, s *StateDB, key string, val []byte, ts uint64) {
	t.Helper()
	wb := s.DB().NewManagedWriteBatch()
	if err := wb.SetEntryAt(badger.NewEntry([]byte(key), val), ts); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

func allVersions(t *testing.T, s *StateDB, key string) []uint64 {
	t.Helper()
	txn := s.DB().NewTransactionAt(MaxTs, false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, Prefix: []byte(key)})
	defer it.Close()
	var out []uint64
	for it.Rewind(); it.Valid(); it.Next() {
		out = append(out, it.Item().Version())
	}
	return out
}

// Sparse files count for the blocks they use, not their length.
func TestDirUsageCountsAllocatedBlocks(t *testing.T) {
	dir := t.TempDir()
	sparse, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	sparse.Close()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "data"), bytes.Repeat([]byte{1}, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := dirUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1<<20 || n > 2<<20 {
		t.Fatalf("usage %d bytes for 1 MiB of data and a 256 MiB sparse file", n)
	}
}

func TestFlushMemtablesAndDefragmentDropVersions(t *testing.T) {
	s := openState(t, t.TempDir())
	val := bytes.Repeat([]byte("v"), StateValueThreshold+1) // past the value threshold: in the value log
	for ts := uint64(1); ts <= 200; ts++ {
		setAt(t, s, "key", val, ts)
		setAt(t, s, fmt.Sprint("other", ts%7), []byte("x"), ts)
	}
	before, err := s.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	s.SetDiscardTs(150)
	if err := s.FlushMemtables(); err != nil {
		t.Fatal(err)
	}
	if err := s.Defragment(); err != nil {
		t.Fatal(err)
	}
	got := allVersions(t, s, "key")
	if len(got) != 51 || got[0] != 200 || got[50] != 150 {
		t.Fatalf("versions after flush and defragment with discard at 150: %d of them, %v..", len(got), got[:min(3, len(got))])
	}
	txn := s.DB().NewTransactionAt(MaxTs, false)
	if _, err := txn.Get(flushMarker); !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatalf("flush marker left: %v", err)
	}
	txn.Discard()
	after, _ := s.DiskUsage()
	t.Logf("disk usage %d -> %d", before, after)
	// Writes go on afterwards.
	setAt(t, s, "key", []byte("new"), 201)
}

func TestLoadSnapshotKeepsVersionsAndFilters(t *testing.T) {
	src := openState(t, t.TempDir())
	setAt(t, src, "a", []byte("1"), 3)
	setAt(t, src, "a", []byte("2"), 5)
	setAt(t, src, "b", []byte("x"), 4)
	setAt(t, src, "c", []byte("y"), 6)
	setAt(t, src, "c", []byte("later"), 9)
	var buf bytes.Buffer
	if err := src.WriteSnapshot(context.Background(), &buf, 7); err != nil {
		t.Fatal(err)
	}
	dst := openState(t, t.TempDir())
	if err := dst.LoadSnapshot(bytes.NewReader(buf.Bytes()), func(k []byte) bool { return string(k) != "b" }); err != nil {
		t.Fatal(err)
	}
	txn := dst.DB().NewTransactionAt(MaxTs, false)
	defer txn.Discard()
	for key, want := range map[string]uint64{"a": 5, "c": 6} {
		item, err := txn.Get([]byte(key))
		if err != nil || item.Version() != want {
			t.Fatalf("%s after load: %v, version %d, want %d", key, err, item.Version(), want)
		}
	}
	if _, err := txn.Get([]byte("b")); !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatalf("filtered key loaded: %v", err)
	}
	// A cut stream is refused.
	if err := openState(t, t.TempDir()).LoadSnapshot(bytes.NewReader(buf.Bytes()[:buf.Len()-3]), nil); !errors.Is(err, ErrBadSnapshotStream) {
		t.Fatalf("cut stream: %v", err)
	}
}
