package abi

import (
	"encoding/binary"
	"errors"
)

// ErrShort is returned when an encoded value ends before its lengths say.
var ErrShort = errors.New("abi: truncated encoding")

// AppendU32 appends v little-endian.
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// AppendU64 appends v little-endian.
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// AppendBytes appends a u32 length then p.
func AppendBytes(b, p []byte) []byte { return append(AppendU32(b, uint32(len(p))), p...) }

// AppendString appends a u32 length then s.
func AppendString(b []byte, s string) []byte { return append(AppendU32(b, uint32(len(s))), s...) }

// Reader walks an encoded buffer. The first short read sets Err and every
// later read returns zero values, so a decoder checks Err once at the end.
// Byte slices it returns alias the buffer: copy them to keep them.
type Reader struct {
	b   []byte
	Err error
}

// NewReader reads b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Rest returns the unread bytes and consumes them.
func (r *Reader) Rest() []byte { b := r.b; r.b = nil; return b }

// U8 reads one byte.
func (r *Reader) U8() byte {
	if r.Err != nil || len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// U32 reads a little-endian u32.
func (r *Reader) U32() uint32 {
	if r.Err != nil || len(r.b) < 4 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// U64 reads a little-endian u64.
func (r *Reader) U64() uint64 {
	if r.Err != nil || len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Bytes reads a u32 length then that many bytes (aliasing the buffer).
func (r *Reader) Bytes() []byte {
	n := r.U32()
	if r.Err != nil || uint64(n) > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// String reads a u32 length then that many bytes as a string (a copy).
func (r *Reader) String() string { return string(r.Bytes()) }

func (r *Reader) fail() {
	if r.Err == nil {
		r.Err = ErrShort
	}
	r.b = nil
}
