package audit

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A batch is stored as a zstd frame of its JSON array. Entries of one
// batch repeat the same field names, user, route and params, so a 32 KiB
// batch of KV writes shrinks about twentyfold (to ~15 bytes an entry),
// and every copy the cluster makes of it shrinks with it: the raft entry,
// each member's log write, the replication messages, the state store's
// memtable, tables and compactions. Under put load on three nodes the
// audit batches were the larger part of what a put cost in bytes
// (docs/benchmarks.md has the figures).
//
// Batches written before compression are plain JSON, which never begins
// with zstd's magic number, so both read the same way.

// zstdMagic opens every zstd frame (RFC 8878, 3.1.1).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxDecodedBatch bounds what one stored batch may inflate to: a batch is
// cut at maxBatchBytes of JSON, or is one entry of at most the store's
// value limit.
const maxDecodedBatch = 16 << 20

var (
	batchEncoder = sync.OnceValue(func() *zstd.Encoder {
		// Options are constants, so NewWriter cannot fail.
		e, _ := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithLowerEncoderMem(true))
		return e
	})
	batchDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(2),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(maxDecodedBatch))
		return d
	})
)

// compressBatch is the stored form of a batch's JSON array.
func compressBatch(raw []byte) []byte {
	return batchEncoder().EncodeAll(raw, make([]byte, 0, len(raw)/8))
}

// batchJSON is the JSON of a stored batch, inflated when it is compressed.
func batchJSON(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return stored, nil
	}
	raw, err := batchDecoder().DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return raw, nil
}
