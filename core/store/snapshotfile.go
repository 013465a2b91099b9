package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// The Trellis snapshot file (Snapshot writes it, RestoreSnapshot reads it).
// Integers are big-endian.
//
//	offset  size  field
//	0       12    magic "TRELLISSNAP\x00"
//	12      4     format version (2)
//	16      8     revision: the applied index the state is taken at
//	24      8     raft term of that revision (0 when unknown)
//	32      8     id of the member that wrote the file
//	40      8     compacted revision at that point
//	48      8     creation time, Unix milliseconds
//	56      ...   body: chunks of the state store's backup stream
//	              (storage.StateDB.WriteSnapshot), each a uint32 length and
//	              that many bytes; a zero length ends the body
//	end-32  32    SHA-256 of everything before it
//
// SnapshotInfo describes the whole file: Size counts every byte and SHA256
// is the hex SHA-256 of the whole file, trailer included (what sha256sum
// prints), so it can be compared with a download's.
const (
	snapshotMagic = "TRELLISSNAP\x00"
	// Version 2: the state store's layout 2 (keys.go stateLayout).
	snapshotVersion    = 2
	snapshotHeaderSize = 56
	// snapshotMaxChunk bounds a body chunk, so a corrupt length cannot make
	// the reader wait for or buffer gigabytes.
	snapshotMaxChunk = 16 << 20
)

// ErrBadSnapshot is the error (wrapped, with the reason) for a snapshot
// file that is not one, is of an unknown format version, is truncated or
// fails its checksum.
var ErrBadSnapshot = errors.New("store: bad snapshot file")

// snapshotHeader is the fixed part at the start of a snapshot file.
type snapshotHeader struct {
	Version   uint32
	Revision  int64
	Term      uint64
	MemberID  uint64
	Compacted int64
	CreatedMs int64
}

func (h *snapshotHeader) marshal() []byte {
	b := make([]byte, 0, snapshotHeaderSize)
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint32(b, h.Version)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Revision))
	b = binary.BigEndian.AppendUint64(b, h.Term)
	b = binary.BigEndian.AppendUint64(b, h.MemberID)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Compacted))
	return binary.BigEndian.AppendUint64(b, uint64(h.CreatedMs))
}

func parseSnapshotHeader(b []byte) (snapshotHeader, error) {
	if len(b) != snapshotHeaderSize || !bytes.Equal(b[:len(snapshotMagic)], []byte(snapshotMagic)) {
		return snapshotHeader{}, fmt.Errorf("%w: not a Trellis snapshot (bad magic)", ErrBadSnapshot)
	}
	b = b[len(snapshotMagic):]
	h := snapshotHeader{Version: binary.BigEndian.Uint32(b)}
	if h.Version != snapshotVersion {
		return snapshotHeader{}, fmt.Errorf("%w: format version %d, this build reads version %d", ErrBadSnapshot, h.Version, snapshotVersion)
	}
	b = b[4:]
	h.Revision = int64(binary.BigEndian.Uint64(b))
	h.Term = binary.BigEndian.Uint64(b[8:])
	h.MemberID = binary.BigEndian.Uint64(b[16:])
	h.Compacted = int64(binary.BigEndian.Uint64(b[24:]))
	h.CreatedMs = int64(binary.BigEndian.Uint64(b[32:]))
	if h.Revision < 1 || h.Compacted < 0 || h.Compacted > h.Revision {
		return snapshotHeader{}, fmt.Errorf("%w: corrupt header (revision %d, compacted %d)", ErrBadSnapshot, h.Revision, h.Compacted)
	}
	return h, nil
}

// Snapshot writes a consistent snapshot of this member's state at its
// newest applied revision to w in the Trellis snapshot format (see above).
// Writes go on meanwhile: the state store is read at that revision, which
// stays pinned until the stream ends.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	rev, unpin := s.sm.pinNewest()
	defer unpin()
	// The applied revision is never below the compacted one; with the pin
	// in place nothing it needs is discarded from now on.
	compacted := s.CompactedRevision()
	if rev < compacted || rev < 1 {
		return SnapshotInfo{}, fmt.Errorf("store: snapshot at revision %d (compacted %d)", rev, compacted)
	}
	term := s.sm.appliedTerm.Load()
	if term == 0 {
		term = s.node.Term()
	}
	hdr := snapshotHeader{Version: snapshotVersion, Revision: rev, Term: term, MemberID: s.node.ID(),
		Compacted: compacted, CreatedMs: time.Now().UnixMilli()}
	sw := newSnapshotWriter(ctx, w)
	if err := sw.writeHeader(&hdr); err != nil {
		return SnapshotInfo{}, err
	}
	if err := s.state.WriteSnapshot(ctx, sw, uint64(rev)); err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: snapshot at %d: %w", rev, err)
	}
	info, err := sw.finish()
	if err != nil {
		return SnapshotInfo{}, err
	}
	info.Revision = rev
	s.logger.Info("snapshot written", "revision", rev, "bytes", info.Size, "sha256", info.SHA256)
	return info, nil
}

// snapshotWriter frames a body into chunks and keeps the count and the
// checksum of what it wrote. Its Write is the body's.
type snapshotWriter struct {
	ctx  context.Context
	out  *bufio.Writer
	sum  hash.Hash // what the trailer holds
	file hash.Hash // the whole file's
	n    int64
	err  error
}

func newSnapshotWriter(ctx context.Context, w io.Writer) *snapshotWriter {
	return &snapshotWriter{ctx: ctx, out: bufio.NewWriterSize(w, 256<<10), sum: sha256.New(), file: sha256.New()}
}

// put writes b to the file, into the checksum when hashed.
func (sw *snapshotWriter) put(b []byte, hashed bool) error {
	if sw.err != nil {
		return sw.err
	}
	if err := sw.ctx.Err(); err != nil {
		sw.err = err
		return err
	}
	if _, err := sw.out.Write(b); err != nil {
		sw.err = fmt.Errorf("store: write snapshot: %w", err)
		return sw.err
	}
	if hashed {
		sw.sum.Write(b)
	}
	sw.file.Write(b)
	sw.n += int64(len(b))
	return nil
}

func (sw *snapshotWriter) writeHeader(h *snapshotHeader) error { return sw.put(h.marshal(), true) }

// Write adds p to the body as one or more chunks.
func (sw *snapshotWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n := min(len(p)-done, snapshotMaxChunk)
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(n))
		if err := sw.put(l[:], true); err != nil {
			return done, err
		}
		if err := sw.put(p[done:done+n], true); err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// finish ends the body, writes the checksum trailer and flushes.
func (sw *snapshotWriter) finish() (SnapshotInfo, error) {
	if err := sw.put(make([]byte, 4), true); err != nil {
		return SnapshotInfo{}, err
	}
	sum := sw.sum.Sum(nil)
	if err := sw.put(sum, false); err != nil {
		return SnapshotInfo{}, err
	}
	if err := sw.out.Flush(); err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: write snapshot: %w", err)
	}
	return SnapshotInfo{Size: sw.n, SHA256: hex.EncodeToString(sw.file.Sum(nil))}, nil
}

// snapshotReader reads a snapshot file: the header, then the body through
// Read (io.EOF at its end), then the trailer in finish. Everything but the
// trailer goes through the checksum.
type snapshotReader struct {
	ctx  context.Context
	in   *bufio.Reader
	sum  hash.Hash // everything before the trailer
	file hash.Hash // the whole file
	n    int64
	left uint32 // bytes left in the current chunk
	done bool   // the end-of-body chunk was read
	// err is the first error reading the file, for callers that got it
	// wrapped by the body's decoder.
	err error
}

func newSnapshotReader(ctx context.Context, r io.Reader) *snapshotReader {
	return &snapshotReader{ctx: ctx, in: bufio.NewReaderSize(r, 256<<10), sum: sha256.New(), file: sha256.New()}
}

func (sr *snapshotReader) fail(err error) error {
	if sr.err == nil {
		sr.err = err
	}
	return err
}

// full reads exactly len(b) bytes; running out of file is ErrBadSnapshot.
func (sr *snapshotReader) full(b []byte, hashed bool) error {
	return sr.fail(sr.readFull(b, hashed))
}

func (sr *snapshotReader) readFull(b []byte, hashed bool) error {
	if err := sr.ctx.Err(); err != nil {
		return err
	}
	n, err := io.ReadFull(sr.in, b)
	sr.n += int64(n)
	if hashed {
		sr.sum.Write(b[:n])
	}
	sr.file.Write(b[:n])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if sr.n == 0 {
			return fmt.Errorf("%w: empty file", ErrBadSnapshot)
		}
		return fmt.Errorf("%w: truncated (file ends after %d bytes)", ErrBadSnapshot, sr.n)
	}
	if err != nil {
		return fmt.Errorf("store: read snapshot: %w", err)
	}
	return nil
}

func (sr *snapshotReader) readHeader() (snapshotHeader, error) {
	b := make([]byte, snapshotHeaderSize)
	err := sr.full(b, true)
	// A short file whose start is not the magic is not a snapshot at all.
	got := b[:sr.n]
	m := min(len(got), len(snapshotMagic))
	if !bytes.Equal(got[:m], []byte(snapshotMagic[:m])) {
		return snapshotHeader{}, fmt.Errorf("%w: not a Trellis snapshot (bad magic)", ErrBadSnapshot)
	}
	if err != nil {
		return snapshotHeader{}, err
	}
	return parseSnapshotHeader(b)
}

// Read reads the body.
func (sr *snapshotReader) Read(p []byte) (int, error) {
	for sr.left == 0 {
		if sr.done {
			return 0, io.EOF
		}
		var l [4]byte
		if err := sr.full(l[:], true); err != nil {
			return 0, err
		}
		sr.left = binary.BigEndian.Uint32(l[:])
		if sr.left == 0 {
			sr.done = true
			return 0, io.EOF
		}
		if sr.left > snapshotMaxChunk {
			return 0, sr.fail(fmt.Errorf("%w: corrupt body (chunk of %d bytes at offset %d)", ErrBadSnapshot, sr.left, sr.n-4))
		}
	}
	if err := sr.ctx.Err(); err != nil {
		return 0, sr.fail(err)
	}
	p = p[:min(len(p), int(sr.left))]
	n, err := sr.in.Read(p)
	sr.n += int64(n)
	sr.sum.Write(p[:n])
	sr.file.Write(p[:n])
	sr.left -= uint32(n)
	if errors.Is(err, io.EOF) {
		if sr.left > 0 {
			return n, sr.fail(fmt.Errorf("%w: truncated (file ends after %d bytes)", ErrBadSnapshot, sr.n))
		}
		err = nil
	}
	if err != nil {
		return n, sr.fail(fmt.Errorf("store: read snapshot: %w", err))
	}
	return n, nil
}

// drain reads the rest of the body, so the checksum can still be checked
// after the body's reader gave up; errors here surface again in finish.
func (sr *snapshotReader) drain() {
	_, _ = io.Copy(io.Discard, sr)
}

// finish reads and checks the trailer and that nothing follows it.
func (sr *snapshotReader) finish() (SnapshotInfo, error) {
	if !sr.done {
		return SnapshotInfo{}, fmt.Errorf("%w: body not read to its end", ErrBadSnapshot)
	}
	computed := sr.sum.Sum(nil)
	trailer := make([]byte, sha256.Size)
	if err := sr.full(trailer, false); err != nil {
		return SnapshotInfo{}, err
	}
	if !bytes.Equal(trailer, computed) {
		return SnapshotInfo{}, fmt.Errorf("%w: checksum mismatch, the file is corrupt (trailer %x, contents hash to %x)", ErrBadSnapshot, trailer, computed)
	}
	extra, err := io.Copy(io.Discard, sr.in)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: read snapshot: %w", err)
	}
	if extra > 0 {
		return SnapshotInfo{}, fmt.Errorf("%w: %d unexpected bytes after the checksum", ErrBadSnapshot, extra)
	}
	return SnapshotInfo{Size: sr.n, SHA256: hex.EncodeToString(sr.file.Sum(nil))}, nil
}
