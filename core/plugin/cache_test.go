package plugin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
)

// The cached rewrite of a module is used only for that module and only
// when whole: an entry that is damaged, is another module's, or was
// written by an older host is ignored and rewritten, even when it would
// still compile.
func TestRewriteCacheEntries(t *testing.T) {
	dir := t.TempDir()
	raw := wasmgen.Plugin(wasmgen.Desc("raw", "validator", 1), "").Bytes()
	other := wasmgen.Plugin(wasmgen.Desc("other", "validator", 1), "").Bytes()
	digest := func(b []byte) string {
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	load := func(name string, wasm []byte, m plugin.Manifest) (*plugin.Plugin, error) {
		t.Helper()
		h, err := plugin.NewHost(plugin.Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		return h.Load(context.Background(), name, wasm, m)
	}
	mustLoad := func(wasm []byte, m plugin.Manifest, describes string) {
		t.Helper()
		p, err := load("p", wasm, m)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Describe().Name; got != describes {
			t.Fatalf("loaded a module describing %q, want %q", got, describes)
		}
	}
	entry := func(wasm []byte) string {
		t.Helper()
		paths, _ := filepath.Glob(filepath.Join(dir, "trellis-instrumented-*", digest(wasm)+".wasm"))
		if len(paths) != 1 {
			t.Fatalf("entries for %s: %v", digest(wasm)[:12], paths)
		}
		return paths[0]
	}
	write := func(path string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}

	mustLoad(raw, plugin.Manifest{}, "raw")
	mustLoad(other, plugin.Manifest{}, "other")
	good, err := os.ReadFile(entry(raw))
	if err != nil {
		t.Fatal(err)
	}
	rewritten := func() {
		t.Helper()
		if b, _ := os.ReadFile(entry(raw)); !bytes.Equal(b, good) {
			t.Fatal("damaged entry was not rewritten")
		}
	}

	// The rewrite of another module, under this module's name.
	otherEntry, _ := os.ReadFile(entry(other))
	write(entry(raw), otherEntry)
	mustLoad(raw, plugin.Manifest{}, "raw")
	rewritten()

	// A flipped byte that leaves a valid module describing another name.
	i := bytes.Index(good, []byte(`"raw"`))
	if i < 0 {
		t.Fatal("no description in the entry")
	}
	flipped := bytes.Clone(good)
	flipped[i+3] = 'x'
	write(entry(raw), flipped)
	mustLoad(raw, plugin.Manifest{}, "raw")
	rewritten()

	// Torn writes, and an entry without the header (an older host's).
	for _, b := range [][]byte{good[:len(good)/2], good[:10], nil, good[bytes.Index(good, []byte("\x00asm")):]} {
		write(entry(raw), b)
		mustLoad(raw, plugin.Manifest{}, "raw")
		rewritten()
	}

	// With the digest pinned and the rewrite cached, other bytes are still
	// refused, and the digest's case does not matter.
	pinned := plugin.Manifest{SHA256: strings.ToUpper(digest(raw))}
	if p, err := load("p", other, pinned); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("other bytes under raw's digest: loaded=%t, %v", p != nil, err)
	}
	mustLoad(raw, pinned, "raw")
	p, err := load("p", raw, pinned)
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest() != digest(raw) {
		t.Fatalf("digest %s, want %s", p.Digest(), digest(raw))
	}
	// A damaged entry is ignored with a pinned digest too.
	write(entry(raw), flipped)
	mustLoad(raw, pinned, "raw")
	rewritten()
}
