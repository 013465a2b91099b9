package plugin

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trellis-cp/trellis/core/plugin/internal/interrupt"
)

// instrument returns the module with the loop checks Load needs
// (deadline.go) and its data segments merged (datamerge.go). With a cache
// dir, the result is kept on disk by digest next to wazero's compiled
// code, so a restart skips the rewrite (tens of milliseconds for a Go
// plugin of a few megabytes) as it skips compiling.
// The directory is the node's own; an entry that fails to read or write
// only costs the rewrite, and fromCache lets Load drop an entry that does
// not compile and rewrite again.
func (h *Host) instrument(digest string, wasm []byte) (code []byte, fromCache bool, err error) {
	var path string
	if h.cacheDir != "" {
		path = h.instrumentedPath(digest)
		if b, err := os.ReadFile(path); err == nil && bytes.HasPrefix(b, wasmMagic) {
			return b, true, nil
		}
	}
	code, err = interrupt.Instrument(wasm)
	if err != nil {
		return nil, false, err
	}
	code = mergeData(code)
	if path == "" {
		return code, false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err == nil {
		if f, err := os.CreateTemp(filepath.Dir(path), digest+".*.tmp"); err == nil {
			_, werr := f.Write(code)
			if cerr := f.Close(); werr == nil && cerr == nil {
				os.Rename(f.Name(), path)
			} else {
				os.Remove(f.Name())
			}
		}
	}
	return code, false, nil
}

// instrumentedPath is where the rewrite of the module with this digest is
// cached; the directory names the versions of the rewrites.
func (h *Host) instrumentedPath(digest string) string {
	dir := fmt.Sprintf("trellis-instrumented-v%d-%d-data%d", interrupt.Version, interrupt.Budget, dataMergeVersion)
	return filepath.Join(h.cacheDir, dir, digest+".wasm")
}

// forget drops a cached rewrite that did not compile.
func (h *Host) forget(digest string) {
	os.Remove(h.instrumentedPath(digest))
}
