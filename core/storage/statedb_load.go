package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// maxSnapshotFrame bounds one frame of Badger's backup format (Badger cuts
// its stream batches at about 100 MiB), so a corrupt length cannot make
// LoadSnapshot allocate without limit.
const maxSnapshotFrame = 1 << 30

// ErrBadSnapshotStream means a snapshot stream is not in Badger's backup
// format, or is cut short.
var ErrBadSnapshotStream = errors.New("storage: malformed snapshot stream")

// LoadSnapshot adds the keys of a stream written by WriteSnapshot to the
// store, each version at its own timestamp, leaving out the keys keep
// rejects (nil keeps all). Unlike RestoreSnapshot it clears nothing first:
// it fills a new, empty store that nothing else uses meanwhile.
func (s *StateDB) LoadSnapshot(r io.Reader, keep func(key []byte) bool) error {
	ldr := s.db.NewKVLoader(16)
	if err := decodeBackup(r, func(kv *pb.KV) error {
		if keep != nil && !keep(kv.Key) {
			return nil
		}
		return ldr.Set(kv)
	}); err != nil {
		ldr.Finish()
		return err
	}
	if err := ldr.Finish(); err != nil {
		return fmt.Errorf("storage: load snapshot: %w", err)
	}
	return s.Sync()
}

// decodeBackup calls fn for every key version in a stream of Badger's
// backup format: frames of a little-endian uint64 length and a KVList.
func decodeBackup(r io.Reader, fn func(*pb.KV) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var hdr [8]byte
	var buf bytes.Buffer
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return badStream(err)
		}
		n := binary.LittleEndian.Uint64(hdr[:])
		if n > maxSnapshotFrame {
			return fmt.Errorf("%w: frame of %d bytes", ErrBadSnapshotStream, n)
		}
		// Grow with the data that arrives, not with the length claimed.
		buf.Reset()
		if _, err := io.CopyN(&buf, br, int64(n)); err != nil {
			return badStream(err)
		}
		list := &pb.KVList{}
		if err := proto.Unmarshal(buf.Bytes(), list); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSnapshotStream, err)
		}
		for _, kv := range list.Kv {
			if err := fn(kv); err != nil {
				return fmt.Errorf("storage: load snapshot: %w", err)
			}
		}
	}
}

func badStream(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrBadSnapshotStream, err)
}
