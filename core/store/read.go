package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// readTxn opens a Badger snapshot at rev (0 = newest applied) after checking
// rev against the compaction point and the applied revision.
func (sm *stateMachine) readTxn(rev int64) (*badger.Txn, int64, error) {
	cur := sm.revision()
	if rev == 0 {
		rev = cur
	}
	if rev > cur {
		return nil, 0, fmt.Errorf("%w: %d > %d", ErrFutureRevision, rev, cur)
	}
	if err := sm.stillReadable(rev); err != nil {
		return nil, 0, err
	}
	return sm.db.DB().NewTransactionAt(uint64(rev), false), rev, nil
}

// get reads key at rev (0 = newest applied) and the revision it read at.
func (sm *stateMachine) get(ns string, key []byte, rev int64) (kv *KV, at int64, err error) {
	err = sm.consistent(func() error {
		var rerr error
		kv, at, rerr = sm.getOnce(ns, key, rev)
		return rerr
	})
	return kv, at, err
}

func (sm *stateMachine) getOnce(ns string, key []byte, rev int64) (*KV, int64, error) {
	txn, rev, err := sm.readTxn(rev)
	if err != nil {
		return nil, 0, err
	}
	defer txn.Discard()
	dk := dataKey(ns, key)
	r, ok := sm.revs.Load().get(string(dk), rev)
	if err := sm.stillReadable(rev); err != nil {
		return nil, 0, err
	}
	if !ok { // maybe a plain record
		item, err := txn.Get(dk)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, rev, ErrNotFound
		}
		if err != nil {
			return nil, rev, fmt.Errorf("store: get %q: %w", key, err)
		}
		raw, err := item.ValueCopy(nil)
		if err != nil {
			return nil, rev, fmt.Errorf("store: get %q: %w", key, err)
		}
		rec, err := unmarshalRecord(raw)
		if err != nil {
			return nil, rev, err
		}
		return rec.kvOwned(key, int64(item.Version())), rev, nil
	}
	rec, err := readRecord(txn, ns, dk, r)
	if err != nil {
		return nil, rev, err
	}
	return rec.kvOwned(key, r.main), rev, nil
}

// walk calls fn, in key order, for every key under prefix (from start on)
// visible at rev, with where its record is: the revision index's keys
// and the plain records (the data keys txn sees), merged. It takes the
// index in chunks, so apply is never held up for long.
func (sm *stateMachine) walk(txn *badger.Txn, rev int64, prefix []byte, start string, fn func(dk string, r revision) (bool, error)) error {
	revs := sm.revs.Load()
	end := prefixEnd(prefix)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Seek([]byte(start))
	type hit struct {
		key string
		at  revision
	}
	// plainUntil passes on the plain records before key ("" for all).
	plainUntil := func(key string) (bool, error) {
		for ; it.Valid() && (key == "" || string(it.Item().Key()) < key); it.Next() {
			if more, err := fn(string(it.Item().Key()), revision{main: int64(it.Item().Version()), plain: true}); !more || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	chunk := make([]hit, 0, listChunk)
	for {
		chunk = chunk[:0]
		revs.rangeAt(start, end, rev, func(k string, r revision) bool {
			chunk = append(chunk, hit{k, r})
			return len(chunk) < listChunk
		})
		if err := sm.stillReadable(rev); err != nil {
			return err
		}
		for _, h := range chunk {
			if more, err := plainUntil(h.key); !more || err != nil {
				return err
			}
			if more, err := fn(h.key, h.at); !more || err != nil {
				return err
			}
		}
		if len(chunk) < listChunk {
			break
		}
		start = chunk[len(chunk)-1].key + "\x00"
	}
	_, err := plainUntil("")
	return err
}

// stillReadable checks, after a read of the revision index, that no
// compaction past rev came first: compaction publishes the compacted
// revision before it trims the index.
func (sm *stateMachine) stillReadable(rev int64) error {
	if c := max(sm.compacted.Load(), sm.readFloor.Load()); rev < c {
		return fmt.Errorf("%w: %d < %d", ErrCompacted, rev, c)
	}
	return nil
}

// kvOwned is kv for a record whose value the caller owns (no copy).
func (r *record) kvOwned(key []byte, modRev int64) *KV {
	return &KV{Key: string(key), Value: r.value, CreateRevision: r.create, ModRevision: modRev, Version: r.version, ExpireAt: r.expireAt}
}

// ListOptions page through keys under a prefix in key order.
type ListOptions struct {
	// After resumes a listing after this key (the last key of the previous
	// page); empty starts at the prefix.
	After string
	// Limit caps the page; 0 means no limit.
	Limit int
	// Revision reads the state as of that revision; 0 is the newest.
	Revision int64
	// KeysOnly leaves values out.
	KeysOnly bool
	// CountOnly counts the matching keys without returning them.
	CountOnly bool
	// Serializable reads this node's local state without a ReadIndex round.
	Serializable bool
}

// ListResult is one page.
type ListResult struct {
	KVs []*KV
	// More is true when keys remain after this page.
	More bool
	// Count is the number of matching keys when CountOnly was set.
	Count int64
	// Revision is the revision the page was read at.
	Revision int64
}

// listChunk bounds how many keys a list collects from the revision index
// under its lock before it reads their records.
const listChunk = 512

// list reads the keys under the prefix at rev in key order (walk).
func (sm *stateMachine) list(ns string, prefix []byte, opts ListOptions) (res *ListResult, err error) {
	err = sm.consistent(func() error {
		var lerr error
		res, lerr = sm.listOnce(ns, prefix, opts)
		return lerr
	})
	return res, err
}

func (sm *stateMachine) listOnce(ns string, prefix []byte, opts ListOptions) (*ListResult, error) {
	txn, rev, err := sm.readTxn(opts.Revision)
	if err != nil {
		return nil, err
	}
	defer txn.Discard()
	p := dataKey(ns, prefix)
	nsLen := len(p) - len(prefix)
	start := string(p)
	if opts.After != "" {
		start = max(start, string(dataKey(ns, []byte(opts.After)))+"\x00")
	}
	res := &ListResult{Revision: rev}
	err = sm.walk(txn, rev, p, start, func(dk string, r revision) (bool, error) {
		if opts.CountOnly {
			res.Count++
			return true, nil
		}
		if opts.Limit > 0 && len(res.KVs) == opts.Limit {
			res.More = true
			return false, nil
		}
		key := []byte(dk[nsLen:])
		if opts.KeysOnly {
			res.KVs = append(res.KVs, &KV{Key: string(key), ModRevision: r.main})
			return true, nil
		}
		rec, err := readRecord(txn, ns, []byte(dk), r)
		if err != nil {
			return false, err
		}
		res.KVs = append(res.KVs, rec.kvOwned(key, r.main))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// events calls fn for each change under prefix in namespace ns with
// revision in (after, upto], in revision order, until fn returns false.
// It fails with errRestored, before the first event it cannot vouch for,
// when a snapshot restore overlaps it: every event fn was given had been
// read before the restore began.
func (sm *stateMachine) events(ns string, prefix []byte, after, upto int64, fn func(Event) bool) error {
	g := sm.readGen()
	// Registered before the check: a compaction past after+1 either sees
	// this reader and keeps its delete markers out of its sight, or is
	// seen by the check (startCompaction).
	done := sm.readEvents(after + 1)
	defer done()
	if c := sm.compacted.Load(); after+1 < c {
		return fmt.Errorf("%w: watch from %d, compacted at %d", ErrCompacted, after+1, c)
	}
	txn := sm.db.DB().NewTransactionAt(uint64(upto), false)
	defer txn.Discard()
	base := nsPrefix(tagEvent, ns)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: base, PrefetchValues: true, PrefetchSize: 128})
	defer it.Close()
	for it.Seek(eventKey(ns, after+1, 0)); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		rev := int64(beUint64(k[len(base):]))
		if rev > upto {
			break
		}
		var ev Event
		skip := false
		err := item.Value(func(v []byte) error {
			if len(prefix) > 0 && !eventHasPrefix(v, prefix) {
				skip = true
				return nil
			}
			var derr error
			ev, derr = decodeEvent(v, rev)
			return derr
		})
		if err != nil {
			return fmt.Errorf("store: read event at %d: %w", rev, err)
		}
		if skip { // another key's event
			continue
		}
		if sm.overlapped(g) {
			return errRestored
		}
		if !fn(ev) {
			return nil
		}
	}
	// The end too: a restore may have hidden the rest of the range.
	if sm.overlapped(g) {
		return errRestored
	}
	return nil
}

// expired lists keys whose TTL ran out at or before nowMs, at most limit.
func (sm *stateMachine) expired(nowMs int64, limit int) ([]Op, error) {
	txn := sm.db.DB().NewTransactionAt(uint64(sm.revision()), false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagTTL}, PrefetchValues: true})
	defer it.Close()
	var ops []Op
	for it.Rewind(); it.Valid() && len(ops) < limit; it.Next() {
		at, ns, key, err := splitTTLKey(it.Item().Key())
		if err != nil {
			return nil, err
		}
		if at > nowMs {
			break
		}
		var modRev uint64
		if err := it.Item().Value(func(v []byte) error {
			if len(v) != 8 {
				return errCorrupt
			}
			modRev = beUint64(v)
			return nil
		}); err != nil {
			return nil, err
		}
		ops = append(ops, Op{Type: OpExpire, Namespace: ns, Key: append([]byte(nil), key...), ModRevision: int64(modRev)})
	}
	return ops, nil
}
