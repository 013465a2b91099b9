package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record framing of the raft write-ahead log. A record is a 9-byte header
// followed by its payload:
//
//	length  uint32, little-endian: bytes of payload
//	type    one byte (recordType)
//	crc     uint32, little-endian: CRC-32C (Castagnoli) of the type byte and the payload
//
// Segments are preallocated with zeros and written front to back, so an
// all-zero header is where the written part of a segment ends. The CRC
// covers the type so a flipped type byte is caught like a flipped payload.
const recordHeaderSize = 9

// maxRecordSize bounds a record's payload. A length field above it cannot
// have been written by this code: it is damage (or a torn header).
const maxRecordSize = 256 << 20

// recordType says what a record's payload holds.
type recordType uint8

const (
	// recEntry holds a raftpb.Entry. A later entry at the same or a lower
	// index replaces it and everything after it (a new leader truncating
	// this member's tail).
	recEntry recordType = 1
	// recHardState holds a raftpb.HardState; the last one wins.
	recHardState recordType = 2
	// recSnapshot holds a raftpb.Snapshot taken here (CreateSnapshot) or
	// repeated at the head of a new segment: the entries after its index
	// stay.
	recSnapshot recordType = 3
	// recSnapshotInstall holds a raftpb.Snapshot received from the leader
	// (SaveSnapshot): it replaces the whole log, as it does in memory.
	recSnapshotInstall recordType = 4
	// recProbe is a health-check write (Probe); replay skips it.
	recProbe recordType = 5
)

func (t recordType) valid() bool { return t >= recEntry && t <= recProbe }

func (t recordType) String() string {
	switch t {
	case recEntry:
		return "entry"
	case recHardState:
		return "hard state"
	case recSnapshot:
		return "snapshot"
	case recSnapshotInstall:
		return "installed snapshot"
	case recProbe:
		return "probe"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Decoding outcomes other than a good record.
var (
	// errEndOfRecords: an all-zero header (the preallocated rest of a
	// segment) or the end of the data.
	errEndOfRecords = errors.New("end of records")
	// errShortRecord: the header or payload runs past the end of the data.
	errShortRecord = errors.New("record cut short")
	// errBadRecord: a CRC mismatch, an unknown type or an impossible length.
	errBadRecord = errors.New("bad record")
)

// recordCRC is the checksum a record of type t with payload p carries.
func recordCRC(t recordType, p []byte) uint32 {
	crc := crc32.Update(0, crcTable, []byte{byte(t)})
	return crc32.Update(crc, crcTable, p)
}

// appendRecord appends one record to buf.
func appendRecord(buf []byte, t recordType, payload []byte) []byte {
	var h [recordHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	h[4] = byte(t)
	binary.LittleEndian.PutUint32(h[5:9], recordCRC(t, payload))
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// marshaler is what the raftpb messages give: an exact size and an
// encoder into a caller's buffer.
type marshaler interface {
	Size() int
	MarshalTo([]byte) (int, error)
}

// appendMessage appends a record whose payload is m, encoded straight into
// buf (no intermediate copy: entries are the hot path).
func appendMessage(buf []byte, t recordType, m marshaler) ([]byte, error) {
	n := m.Size()
	start := len(buf)
	buf = append(buf, make([]byte, recordHeaderSize+n)...)
	payload := buf[start+recordHeaderSize:]
	if _, err := m.MarshalTo(payload); err != nil {
		return buf[:start], fmt.Errorf("encode %s: %w", t, err)
	}
	h := buf[start : start+recordHeaderSize]
	binary.LittleEndian.PutUint32(h[0:4], uint32(n))
	h[4] = byte(t)
	binary.LittleEndian.PutUint32(h[5:9], recordCRC(t, payload))
	return buf, nil
}

// decodeRecord reads the record at the start of b. It returns the record's
// type, its payload (a sub-slice of b) and its whole length n, or one of
// errEndOfRecords, errShortRecord (wrapped) and errBadRecord (wrapped).
// When the header is readable but the record is bad, n is still its
// declared length, so a caller can look past it; otherwise n is 0.
func decodeRecord(b []byte) (t recordType, payload []byte, n int, err error) {
	if len(b) < recordHeaderSize {
		if allZero(b) {
			return 0, nil, 0, errEndOfRecords
		}
		return 0, nil, 0, fmt.Errorf("%w: %d header bytes of %d", errShortRecord, len(b), recordHeaderSize)
	}
	if allZero(b[:recordHeaderSize]) {
		return 0, nil, 0, errEndOfRecords
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	t = recordType(b[4])
	crc := binary.LittleEndian.Uint32(b[5:9])
	if length > maxRecordSize {
		return 0, nil, 0, fmt.Errorf("%w: length %d over the limit %d", errBadRecord, length, maxRecordSize)
	}
	n = recordHeaderSize + int(length)
	if n > len(b) {
		return 0, nil, 0, fmt.Errorf("%w: %d of %d bytes", errShortRecord, len(b), n)
	}
	payload = b[recordHeaderSize:n]
	if !t.valid() {
		return 0, nil, n, fmt.Errorf("%w: unknown type %d", errBadRecord, uint8(t))
	}
	if got := recordCRC(t, payload); got != crc {
		return 0, nil, n, fmt.Errorf("%w: %s record CRC %08x, stored %08x", errBadRecord, t, got, crc)
	}
	return t, payload, n, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
