package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// futureRevisionWait bounds how long HashKV waits for a revision this
// member has not applied yet when the cluster cannot say at once whether
// it exists.
const futureRevisionWait = 5 * time.Second

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HashKV hashes this member's key-value data as of rev (0: the newest
// applied revision), after waiting until rev is applied here. Below the
// compacted revision it is ErrCompacted, above the cluster's it is
// ErrFutureRevision.
//
// The hash is CRC-32C over every data record visible at rev, in key order:
// for each, the namespace and the key (each preceded by its length as a
// uvarint), the mod revision (8 bytes, big-endian), then the stored record
// (create revision, version and expiry as varints, then the value),
// preceded by its length. Metadata, the change log and the TTL index are
// left out: the records are what clients read. Members holding the same
// records at the same revision get the same hash.
func (s *Store) HashKV(ctx context.Context, rev int64) (HashResult, error) {
	if rev < 0 {
		return HashResult{}, fmt.Errorf("store: hash at negative revision %d", rev)
	}
	if rev > s.Revision() {
		if err := s.waitRevision(ctx, rev); err != nil {
			return HashResult{}, err
		}
	}
	if rev == 0 {
		rev = s.Revision()
	}
	unpin := s.sm.pin(rev)
	defer unpin()
	// Checked after pinning: nothing at or above the compacted revision is
	// discarded while the pin holds.
	txn, rev, err := s.sm.readTxn(rev)
	if err != nil {
		return HashResult{}, fmt.Errorf("store: hash: %w", err)
	}
	defer txn.Discard()
	h, err := hashRecords(ctx, txn)
	if err != nil {
		return HashResult{}, err
	}
	return HashResult{Hash: h, Revision: rev, CompactRevision: s.CompactedRevision()}, nil
}

// waitRevision waits until rev is applied here. A linearizable barrier
// first brings this member up to the cluster's commit index: if rev is
// still ahead after it, no member has it. Without a quorum it waits until
// futureRevisionWait or ctx runs out.
func (s *Store) waitRevision(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithTimeout(ctx, futureRevisionWait)
	defer cancel()
	err := s.node.ReadIndex(wctx)
	if err == nil && rev > s.Revision() {
		return fmt.Errorf("%w: %d > %d", ErrFutureRevision, rev, s.Revision())
	}
	if err != nil {
		err = s.node.WaitApplied(wctx, uint64(rev))
	}
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %d not applied here (applied %d): %w", ErrFutureRevision, rev, s.Revision(), err)
}

// hashRecords hashes every data record txn sees, as HashKV describes.
func hashRecords(ctx context.Context, txn *badger.Txn) (uint32, error) {
	h := crc32.New(castagnoli)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagData}, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	var scratch []byte
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return 0, fmt.Errorf("store: hash: %w", ctx.Err())
		}
		item := it.Item()
		ns, key, err := splitDataKey(item.Key())
		if err != nil {
			return 0, err
		}
		scratch = scratch[:0]
		scratch = binary.AppendUvarint(scratch, uint64(len(ns)))
		scratch = append(scratch, ns...)
		scratch = binary.AppendUvarint(scratch, uint64(len(key)))
		scratch = append(scratch, key...)
		scratch = binary.BigEndian.AppendUint64(scratch, item.Version())
		h.Write(scratch)
		if err := item.Value(func(v []byte) error {
			h.Write(binary.AppendUvarint(scratch[:0], uint64(len(v))))
			h.Write(v)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("store: hash %q: %w", item.Key(), err)
		}
	}
	return h.Sum32(), nil
}

// splitDataKey returns the namespace and key of a data key.
func splitDataKey(k []byte) (ns, key []byte, err error) {
	if len(k) < 2 || k[0] != tagData {
		return nil, nil, fmt.Errorf("store: bad data key %q", k)
	}
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			return k[1:i], k[i+1:], nil
		}
	}
	return nil, nil, fmt.Errorf("store: bad data key %q", k)
}
