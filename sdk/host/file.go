package host

import (
	"io"
	"os"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/hostcall"
)

// File is a file the host opened under one of the manifest's allowed
// paths. Plain os.Open does not work in a plugin: the host mounts no
// filesystem, so every file access is checked by the host.
type File struct {
	h    int32
	name string
}

// Open opens an absolute path for reading.
func Open(path string) (*File, error) { return OpenFile(path, os.O_RDONLY) }

// Create creates or truncates a file for writing (read-write grants only).
func Create(path string) (*File, error) {
	return OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
}

// OpenFile opens path with os.O_* flags (O_RDONLY, O_WRONLY or O_RDWR, and
// O_CREATE, O_TRUNC, O_APPEND).
func OpenFile(path string, flag int) (*File, error) {
	var f int32
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		f |= abi.FileWrite
	}
	if flag&os.O_CREATE != 0 {
		f |= abi.FileCreate
	}
	if flag&os.O_TRUNC != 0 {
		f |= abi.FileTruncate
	}
	if flag&os.O_APPEND != 0 {
		f |= abi.FileAppend
	}
	h, err := hostcall.FileOpen(path, f)
	if err != nil {
		return nil, err
	}
	return &File{h: h, name: path}, nil
}

// Name is the path the file was opened with.
func (f *File) Name() string { return f.name }

// Read implements io.Reader.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := hostcall.FileRead(f.h, p)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write implements io.Writer.
func (f *File) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := hostcall.FileWrite(f.h, p[written:])
		written += n
		if err != nil {
			return written, err
		}
		if n == 0 {
			return written, io.ErrShortWrite
		}
	}
	return written, nil
}

// Close releases the file.
func (f *File) Close() error { return hostcall.FileClose(f.h) }

// ReadFile reads a whole file under an allowed path.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteFile writes data to a file under a read-write allowed path.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
