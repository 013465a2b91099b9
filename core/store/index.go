package store

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// keyMeta is what apply needs to know about a key without its value: the
// revisions and version it carries forward, its TTL, and where its record
// is (the change-log event modRev.sub, or for a plain record the data key
// at version modRev).
type keyMeta struct {
	create, version, modRev, expireAt int64
	sub                               uint32
	plain                             bool
	// hist is the key's history in the revision index, nil for a plain
	// record: apply appends to it without looking the key up there again.
	hist *keyHistory
}

// rev is where the key's current record is.
func (m *keyMeta) rev() revision { return revision{main: m.modRev, sub: m.sub, plain: m.plain} }

// keyIndex holds every live key's metadata in memory: apply reads it
// instead of Badger for each put and delete, and a key missing from it
// does not exist. Only the Ready loop touches it (apply, snapshot
// restore), so it needs no lock. Reads go through the revision index.
type keyIndex map[string]*keyMeta

// loadIndex rebuilds the key index and the revision index from the state
// as of the applied index, the point apply continues from (a crash may
// have left later writes of a half-committed batch, which apply will
// redo): the change log replayed in revision order, then the plain
// records of the append-only logs.
func (sm *stateMachine) loadIndex(applied uint64) error {
	idx := keyIndex{}
	revs := newRevIndex()
	txn := sm.db.DB().NewTransactionAt(applied, false)
	defer txn.Discard()
	if err := loadEvents(txn, idx, revs); err != nil {
		return err
	}
	if err := loadPlain(txn, idx); err != nil {
		return err
	}
	sm.index = idx
	sm.revs.Store(revs)
	return nil
}

// loadEvents replays the change log: each namespace's events come in
// revision order, and a key belongs to one namespace.
func loadEvents(txn *badger.Txn, idx keyIndex, revs *revIndex) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEvent}, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		ns, r, err := splitEventKey(item.Key())
		if err != nil {
			return err
		}
		err = item.Value(func(v []byte) error {
			t, key, rec, err := decodeEventRecord(v)
			if err != nil {
				return err
			}
			dk := string(dataKey(ns, key))
			if t != EventPut {
				revs.tombstone(dk, r)
				delete(idx, dk)
				return nil
			}
			m := idx[dk]
			if m == nil {
				m = &keyMeta{}
				idx[dk] = m
			}
			*m = keyMeta{create: rec.create, version: rec.version, modRev: r.main, expireAt: rec.expireAt, sub: r.sub, hist: revs.put(dk, r)}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: index event %x: %w", item.Key(), err)
		}
	}
	return nil
}

// loadPlain puts the plain records (OpAppend) in the key index; they are
// read from their data keys, so the revision index leaves them out.
func loadPlain(txn *badger.Txn, idx keyIndex) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagData}, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error {
			rec, err := unmarshalRecord(v)
			idx[string(item.KeyCopy(nil))] = &keyMeta{create: rec.create, version: rec.version, modRev: int64(item.Version()), expireAt: rec.expireAt, plain: true}
			return err
		})
		if err != nil {
			return fmt.Errorf("store: index %q: %w", item.Key(), err)
		}
	}
	return nil
}
