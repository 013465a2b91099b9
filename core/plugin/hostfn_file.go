package plugin

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// hostFileOpen opens a file under one of the manifest's allowed paths.
//
// The path must be absolute; the longest allowed directory containing it
// decides, and the file is opened through os.Root on that directory, so
// neither ".." nor a symlink can lead outside it. A write flag on a
// read-only grant is denied.
func hostFileOpen(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	b, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "path outside memory")
		return
	}
	path := string(b)
	flags := api.DecodeI32(stack[2])
	if flags&^(abi.FileWrite|abi.FileCreate|abi.FileTruncate|abi.FileAppend) != 0 {
		stack[0] = in.errno(abi.ErrnoInvalid, "open %s: unknown flags %#x", path, flags)
		return
	}
	if !filepath.IsAbs(path) {
		stack[0] = in.errno(abi.ErrnoInvalid, "open %s: path must be absolute", path)
		return
	}
	clean := filepath.Clean(path)
	g, rel, ok := findGrant(in.p.grants, clean)
	if !ok {
		stack[0] = in.deny("file", "open %s: not under allowed_paths", clean)
		return
	}
	writing := flags&(abi.FileWrite|abi.FileCreate|abi.FileTruncate|abi.FileAppend) != 0
	if writing && g.readOnly {
		stack[0] = in.deny("file", "open %s for writing: %s is read-only", clean, g.dir)
		return
	}
	mode := os.O_RDONLY
	if writing {
		mode = os.O_RDWR
	}
	if flags&abi.FileCreate != 0 {
		mode |= os.O_CREATE
	}
	if flags&abi.FileTruncate != 0 {
		mode |= os.O_TRUNC
	}
	if flags&abi.FileAppend != 0 {
		mode |= os.O_APPEND
	}
	root, err := os.OpenRoot(g.dir)
	if err != nil {
		stack[0] = in.errno(abi.ErrnoIO, "open %s: allowed path %s: %v", clean, g.dir, err)
		return
	}
	f, err := root.OpenFile(rel, mode, 0o640)
	root.Close()
	if err != nil {
		switch {
		case strings.Contains(err.Error(), "escapes from parent"):
			stack[0] = in.deny("file", "open %s: resolves outside %s", clean, g.dir)
		case errors.Is(err, fs.ErrNotExist):
			stack[0] = in.errno(abi.ErrnoNotFound, "open %s: no such file", clean)
		default:
			stack[0] = in.errno(abi.ErrnoIO, "open %s: %v", clean, errors.Unwrap(err))
		}
		return
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		stack[0] = in.errno(abi.ErrnoInvalid, "open %s: is a directory", clean)
		return
	}
	id, code := in.handles.add(&handle{kind: handleFile, file: f})
	if code != 0 {
		stack[0] = in.errno(code, "too many open handles (max_handles %d)", in.handles.max)
		return
	}
	stack[0] = api.EncodeI32(id)
}

// hostFileRead reads straight into the guest's buffer; 0 means EOF.
func hostFileRead(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleFile)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no file %d", api.DecodeI32(stack[0]))
		return
	}
	buf, ok := in.readBuffer(mod, stack)
	if !ok {
		return
	}
	n, err := h.file.Read(buf)
	switch {
	case n > 0:
		stack[0] = api.EncodeI32(int32(n))
	case err == io.EOF:
		stack[0] = 0
	default:
		stack[0] = in.errno(abi.ErrnoIO, "read %s: %v", h.file.Name(), err)
	}
}

// hostFileWrite writes from the guest's buffer.
func hostFileWrite(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleFile)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no file %d", api.DecodeI32(stack[0]))
		return
	}
	buf, ok := read(mod, api.DecodeU32(stack[1]), min(api.DecodeU32(stack[2]), maxChunk))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "buffer outside memory")
		return
	}
	n, err := h.file.Write(buf)
	if n == 0 && err != nil {
		stack[0] = in.errno(abi.ErrnoIO, "write %s: %v", h.file.Name(), err)
		return
	}
	stack[0] = api.EncodeI32(int32(n))
}

// hostFileClose closes a file.
func hostFileClose(in *instance, _ context.Context, _ api.Module, stack []uint64) {
	if !in.handles.remove(api.DecodeI32(stack[0]), handleFile) {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no file %d", api.DecodeI32(stack[0]))
		return
	}
	stack[0] = 0
}
