package plugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
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
	if code := h.cachedRewrite(digest); code != nil {
		return code, true, nil
	}
	code, err = interrupt.Instrument(wasm)
	if err != nil {
		return nil, false, err
	}
	code = mergeData(code)
	if h.cacheDir != "" {
		h.storeRewrite(digest, code)
	}
	return code, false, nil
}

// A cache entry is entryMagic, the sha256 of the module it was rewritten
// from, the CRC-32C of the rewrite, then the rewrite. The checksum catches
// what compiling would not: a torn write or a flipped bit can leave a
// module that is still valid but is not the rewrite (truncated after the
// code section, it would start with no data). The digest ties the entry to
// its module whatever the file is named.
var entryMagic = []byte("trlsrw1\n")

const entryHeaderSize = 8 + sha256.Size + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cachedRewrite returns the cached rewrite of the module with this digest,
// or nil if there is none or it is damaged.
func (h *Host) cachedRewrite(digest string) []byte {
	if h.cacheDir == "" {
		return nil
	}
	sum, err := hex.DecodeString(digest)
	if err != nil || len(sum) != sha256.Size {
		return nil
	}
	b, err := os.ReadFile(h.instrumentedPath(digest))
	if err != nil || len(b) < entryHeaderSize || !bytes.Equal(b[:8], entryMagic) || !bytes.Equal(b[8:8+sha256.Size], sum) {
		return nil
	}
	code := b[entryHeaderSize:]
	if crc32.Checksum(code, castagnoli) != binary.LittleEndian.Uint32(b[entryHeaderSize-4:]) || !bytes.HasPrefix(code, wasmMagic) {
		return nil
	}
	return code
}

// storeRewrite writes an entry under a temporary name and renames it into
// place, so a reader sees a whole entry or none. No fsync: an entry torn
// by a crash fails its checksum and is rewritten.
func (h *Host) storeRewrite(digest string, code []byte) {
	sum, err := hex.DecodeString(digest)
	if err != nil || len(sum) != sha256.Size {
		return
	}
	hdr := make([]byte, 0, entryHeaderSize)
	hdr = append(hdr, entryMagic...)
	hdr = append(hdr, sum...)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(code, castagnoli))
	path := h.instrumentedPath(digest)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(path), digest+".*.tmp")
	if err != nil {
		return
	}
	_, werr := f.Write(hdr)
	if werr == nil {
		_, werr = f.Write(code)
	}
	if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), path) != nil {
		os.Remove(f.Name())
	}
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
