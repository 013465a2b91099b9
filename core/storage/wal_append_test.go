package storage

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// withBufferedWrites turns direct writes off for the rest of the test.
func withBufferedWrites(t *testing.T) {
	t.Cleanup(func() { directWrites = true })
	directWrites = false
}

// An appender's file holds exactly what was appended, whatever the sizes
// of the writes and wherever they fall against the 4 KiB blocks: writes
// inside one block, ending on a boundary, spanning many, bigger than the
// buffer it keeps; and a second appender opened in the middle of a block
// carries on from the bytes already there. The file is preallocated to
// less than is written, so later writes grow it, as a record bigger than a
// segment does. Direct where the file system allows (the test skips when
// it does not), and buffered.
func TestAppenderWritesWhatWasAppended(t *testing.T) {
	for _, direct := range []bool{true, false} {
		name := map[bool]string{true: "direct", false: "buffered"}[direct]
		t.Run(name, func(t *testing.T) {
			if !direct {
				withBufferedWrites(t)
			}
			path := filepath.Join(t.TempDir(), "seg")
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			const size = 1 << 20
			if err := preallocate(f, size); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var want []byte
			sizes := []int{1, 100, directBlock - 101, directBlock, 3*directBlock + 7, 2*maxKeptBuffer + 5, 10, directBlock - 10}
			for range 200 {
				sizes = append(sizes, rng.IntN(3*directBlock))
			}
			a, err := newAppender(f, path, 0)
			if err != nil {
				t.Fatal(err)
			}
			if direct && !a.isDirect() {
				t.Skipf("%s takes no O_DIRECT: only the buffered path runs here", filepath.Dir(path))
			}
			for i, n := range sizes {
				if i == len(sizes)/2 {
					// Reopen in the middle of a block, as a restart does.
					if err := a.close(); err != nil {
						t.Fatal(err)
					}
					if a, err = newAppender(f, path, int64(len(want))); err != nil {
						t.Fatal(err)
					}
				}
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(rng.IntN(255) + 1)
				}
				if err := a.write(p, int64(len(want))); err != nil {
					t.Fatalf("write %d of %d bytes at %d: %v", i, n, len(want), err)
				}
				want = append(want, p...)
			}
			if a.isDirect() != direct {
				t.Fatalf("direct %v after the writes, want %v", a.isDirect(), direct)
			}
			if err := a.close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < len(want) {
				t.Fatalf("file is %d bytes, want at least the %d appended", len(got), len(want))
			}
			if i := firstDifference(got[:len(want)], want); i >= 0 {
				t.Fatalf("byte %d of %d differs from what was appended", i, len(want))
			}
			if i := bytes.IndexFunc(got[len(want):], func(r rune) bool { return r != 0 }); i >= 0 {
				t.Fatalf("byte %d after the records is not zero", len(want)+i)
			}
		})
	}
}

// A write at another offset than the end of the records is refused, not
// written over what is there.
func TestAppenderRefusesAGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := newAppender(f, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if !a.isDirect() {
		t.Skip("no O_DIRECT here; buffered writes go where they are told")
	}
	if err := a.write([]byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	if err := a.write([]byte("x"), 10); err == nil {
		t.Fatal("a write past the end of the records was taken")
	}
}

// zeroFill turns whatever a file held into zeros, directly (from an
// aligned offset) and buffered.
func TestZeroFillOverwrites(t *testing.T) {
	for _, direct := range []bool{true, false} {
		t.Run(map[bool]string{true: "direct", false: "buffered"}[direct], func(t *testing.T) {
			if !direct {
				withBufferedWrites(t)
			}
			path := filepath.Join(t.TempDir(), "f")
			junk := bytes.Repeat([]byte{0xa5}, 3*zeroChunk)
			if err := os.WriteFile(path, junk, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := zeroFill(f, directBlock, 2*zeroChunk+directBlock, nil); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Clone(junk)
			clear(want[directBlock : 2*zeroChunk+directBlock])
			if i := firstDifference(got, want); i >= 0 {
				t.Fatalf("byte %d is %#x, want %#x", i, got[i], want[i])
			}
		})
	}
}

// firstDifference is the first index where a and b differ (or where the
// shorter ends), -1 when they are equal.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
