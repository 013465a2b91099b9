package raft

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// A snapshot stream on the wire is a sequence of chunks, each a 4-byte
// big-endian length and that many bytes, ended by a zero-length chunk and
// the SHA-256 of every chunk's bytes. A sender that dies part-way leaves a
// stream without its end, and a corrupted one fails the checksum: either
// way the receiver refuses it before raft hears of the snapshot, instead of
// taking a cut stream for a whole one.

const maxSnapChunk = 1 << 20

var errSnapStream = errors.New("raft: snapshot stream")

// snapWriter frames what is written to it; Close writes the end and the
// checksum (it does not close w).
type snapWriter struct {
	w   io.Writer
	sum hash.Hash
}

func newSnapWriter(w io.Writer) *snapWriter { return &snapWriter{w: w, sum: sha256.New()} }

func (s *snapWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxSnapChunk)
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(n))
		if _, err := s.w.Write(hdr[:]); err != nil {
			return written, err
		}
		if _, err := s.w.Write(p[:n]); err != nil {
			return written, err
		}
		s.sum.Write(p[:n])
		written += n
		p = p[n:]
	}
	return written, nil
}

func (s *snapWriter) Close() error {
	var end [4]byte
	if _, err := s.w.Write(end[:]); err != nil {
		return err
	}
	_, err := s.w.Write(s.sum.Sum(nil))
	return err
}

// snapReader reads a framed stream back, returning io.EOF only after the
// end chunk and a matching checksum.
type snapReader struct {
	r    io.Reader
	sum  hash.Hash
	left int
	done bool
}

func newSnapReader(r io.Reader) *snapReader { return &snapReader{r: r, sum: sha256.New()} }

func (s *snapReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	for s.left == 0 {
		var hdr [4]byte
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			return 0, fmt.Errorf("%w cut short: %v", errSnapStream, noEOF(err))
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxSnapChunk {
			return 0, fmt.Errorf("%w: chunk of %d bytes", errSnapStream, n)
		}
		if n == 0 {
			want := make([]byte, sha256.Size)
			if _, err := io.ReadFull(s.r, want); err != nil {
				return 0, fmt.Errorf("%w cut short in its checksum: %v", errSnapStream, noEOF(err))
			}
			if got := s.sum.Sum(nil); string(got) != string(want) {
				return 0, fmt.Errorf("%w: checksum mismatch", errSnapStream)
			}
			s.done = true
			return 0, io.EOF
		}
		s.left = int(n)
	}
	if len(p) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.sum.Write(p[:n])
	s.left -= n
	if err == io.EOF {
		if s.left > 0 {
			return n, fmt.Errorf("%w cut short: %v", errSnapStream, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	return n, err
}

// noEOF reports a clean EOF inside a frame as what it is: a cut stream.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
