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
	var h uint32
	err := s.sm.consistent(func() error {
		txn, at, err := s.sm.readTxn(rev)
		if err != nil {
			return fmt.Errorf("store: hash: %w", err)
		}
		defer txn.Discard()
		rev = at
		h, err = s.sm.hashRecords(ctx, txn, at)
		return err
	})
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

// hashRecords hashes every record visible at rev, as HashKV describes.
func (sm *stateMachine) hashRecords(ctx context.Context, txn *badger.Txn, rev int64) (uint32, error) {
	h := crc32.New(castagnoli)
	var scratch []byte
	n := 0
	err := sm.walk(txn, rev, []byte{tagData}, string([]byte{tagData}), func(k string, r revision) (bool, error) {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return false, fmt.Errorf("store: hash: %w", ctx.Err())
		}
		dk := []byte(k)
		ns, key, err := splitDataKey(dk)
		if err != nil {
			return false, err
		}
		rec, err := readRecord(txn, string(ns), dk, r)
		if err != nil {
			return false, fmt.Errorf("store: hash: %w", err)
		}
		scratch = scratch[:0]
		scratch = binary.AppendUvarint(scratch, uint64(len(ns)))
		scratch = append(scratch, ns...)
		scratch = binary.AppendUvarint(scratch, uint64(len(key)))
		scratch = append(scratch, key...)
		scratch = binary.BigEndian.AppendUint64(scratch, uint64(r.main))
		h.Write(scratch)
		v := rec.marshal()
		h.Write(binary.AppendUvarint(scratch[:0], uint64(len(v))))
		h.Write(v)
		return true, nil
	})
	if err != nil {
		return 0, err
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
