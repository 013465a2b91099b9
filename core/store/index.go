package store

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// keyMeta is what apply needs to know about a key without its value: the
// revisions and version it carries forward, and its TTL for the index.
type keyMeta struct {
	create, version, modRev, expireAt int64
}

// keyIndex holds every live key's metadata in memory, like etcd's
// treeIndex: apply reads it instead of Badger for each put and delete, and
// a key missing from it does not exist. Only the Ready loop touches it
// (apply, snapshot restore), so it needs no lock.
type keyIndex map[string]keyMeta

// loadIndex rebuilds the index from the state as of the applied index,
// the point apply continues from (a crash may have left later writes of a
// half-committed batch, which apply will redo).
func (sm *stateMachine) loadIndex() error {
	idx := keyIndex{}
	txn := sm.db.DB().NewTransactionAt(sm.applied.Load(), false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagData}, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var meta keyMeta
		err := item.Value(func(v []byte) error {
			rec, err := unmarshalRecord(v)
			meta = keyMeta{create: rec.create, version: rec.version, modRev: int64(item.Version()), expireAt: rec.expireAt}
			return err
		})
		if err != nil {
			return fmt.Errorf("store: index %q: %w", item.Key(), err)
		}
		idx[string(item.KeyCopy(nil))] = meta
	}
	sm.index = idx
	return nil
}
