package plugin

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
)

// memoryOf instantiates a module and returns its first page of memory.
func memoryOf(t *testing.T, wasm []byte) []byte {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mod.Memory().Read(0, 1<<16)
	return bytes.Clone(b)
}

func TestMergeData(t *testing.T) {
	m := &wasmgen.Module{}
	m.Memory(1)
	// Out of order, as Go writes them, with short and long gaps.
	m.Data(4000, []byte("far"))
	m.Data(100, []byte("abc"))
	m.Data(110, []byte("de"))
	m.Data(103, []byte("xy"))
	m.Data(400, []byte("after a long gap"))
	m.Data(500, nil)
	orig := m.Bytes()
	merged := mergeData(orig)
	if bytes.Equal(merged, orig) {
		t.Fatal("nothing merged")
	}
	segs := func(w []byte) int {
		t.Helper()
		for pos := 8; pos < len(w); {
			id := w[pos]
			size, n := uvarint(w[pos+1:])
			if id == 11 {
				s, err := parseDataSegments(w[pos+1+n : pos+1+n+int(size)])
				if err != nil {
					t.Fatal(err)
				}
				return len(s)
			}
			pos += 1 + n + int(size)
		}
		return 0
	}
	if got := segs(merged); got != 3 {
		t.Errorf("%d segments after merging, want 3 (100..112, 400..500, 4000)", got)
	}
	if !bytes.Equal(memoryOf(t, orig), memoryOf(t, merged)) {
		t.Fatal("merged module starts with other memory")
	}

	// Overlapping segments apply in order: left alone.
	m = &wasmgen.Module{}
	m.Memory(1)
	m.Data(100, []byte("abcd"))
	m.Data(102, []byte("XY"))
	if w := m.Bytes(); !bytes.Equal(mergeData(w), w) {
		t.Error("overlapping segments merged")
	}
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func TestSleb32(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, 64, -64, -65, 1 << 20, -1 << 31, 1<<31 - 1} {
		b := appendSleb32(nil, v)
		got, n := readSleb32(b)
		if got != v || n != len(b) {
			t.Errorf("%d: got %d (%d of %d bytes)", v, got, n, len(b))
		}
	}
}
