package store

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"
)

// batch applies a run of entries into one Badger write batch. Reads see the
// state before the batch (a Badger snapshot at the applied index) plus the
// overlay of what earlier entries in the batch wrote. Re-applying the same
// entries after a crash writes identical bytes at identical versions, so a
// batch Badger split and only half-committed heals itself.
type batch struct {
	sm      *stateMachine
	wb      *badger.WriteBatch
	read    *badger.Txn
	overlay map[string]overlayRec
}

type overlayRec struct {
	rec    record
	modRev int64
	gone   bool
}

// newBatch starts a batch whose reads see everything written at or below
// readTs; keys is a guess at how many keys it will write.
func (sm *stateMachine) newBatch(readTs uint64, keys int) *batch {
	return &batch{
		sm:      sm,
		wb:      sm.db.DB().NewManagedWriteBatch(),
		read:    sm.db.DB().NewTransactionAt(readTs, false),
		overlay: make(map[string]overlayRec, keys),
	}
}

func (b *batch) flush() error {
	b.read.Discard()
	if err := b.wb.Flush(); err != nil {
		return fmt.Errorf("store: apply batch: %w", err)
	}
	return nil
}

// lookup returns the key's current record and mod revision, or ok=false.
// The record's value is filled in only when withValue is set: the key
// index answers everything else without touching Badger.
func (b *batch) lookup(dk []byte, withValue bool) (rec record, modRev int64, ok bool, err error) {
	if o, hit := b.overlay[string(dk)]; hit {
		if o.gone {
			return record{}, 0, false, nil
		}
		return o.rec, o.modRev, true, nil
	}
	meta, ok := b.sm.index[string(dk)]
	if !ok {
		return record{}, 0, false, nil
	}
	rec = record{create: meta.create, version: meta.version, expireAt: meta.expireAt}
	if !withValue {
		return rec, meta.modRev, true, nil
	}
	item, err := b.read.Get(dk)
	if err != nil {
		return record{}, 0, false, fmt.Errorf("store: read %q (indexed at %d): %w", dk, meta.modRev, err)
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return record{}, 0, false, fmt.Errorf("store: read %q: %w", dk, err)
	}
	full, err := unmarshalRecord(raw)
	if err != nil {
		return record{}, 0, false, err
	}
	return full, int64(item.Version()), true, nil
}

// note records a write in the overlay (the batch's own reads) and in the
// key index (every later batch's).
func (b *batch) note(dk []byte, rec *record, modRev int64) {
	k := string(dk) // one copy for both maps
	b.overlay[k] = overlayRec{rec: *rec, modRev: modRev}
	b.sm.index[k] = keyMeta{create: rec.create, version: rec.version, modRev: modRev, expireAt: rec.expireAt}
}

// forget records a delete the same way.
func (b *batch) forget(dk []byte) {
	b.overlay[string(dk)] = overlayRec{gone: true}
	delete(b.sm.index, string(dk))
}

func (b *batch) applyCommand(index uint64, cmd *Command) (*TxnResult, error) {
	rev := int64(index)
	res := &TxnResult{Revision: rev}
	ev := &eventSeq{}
	switch cmd.Kind {
	case KindCompact:
		return res, b.compact(index, cmd.Revision)
	case KindAlarm:
		return b.applyAlarm(index, cmd)
	}
	ok, err := b.compares(cmd.Compares)
	if err != nil {
		return nil, err
	}
	res.Succeeded = ok
	ops := cmd.Success
	if !ok {
		ops = cmd.Failure
	}
	res.Responses = make([]OpResult, len(ops))
	for i := range ops {
		r, err := b.applyOp(index, ev, &ops[i])
		if err != nil {
			return nil, err
		}
		res.Responses[i] = r
	}
	return res, nil
}

// eventSeq numbers the events one entry produces.
type eventSeq struct{ n uint32 }

func (e *eventSeq) next() uint32 { e.n++; return e.n - 1 }

func (b *batch) compares(cs []Compare) (bool, error) {
	for i := range cs {
		c := &cs[i]
		rec, modRev, exists, err := b.lookup(dataKey(c.Namespace, c.Key), c.Target == CompareValue)
		if err != nil {
			return false, err
		}
		var cmp int
		switch c.Target {
		case CompareValue:
			if !exists {
				return false, nil // etcd: a value compare on a missing key fails
			}
			cmp = bytes.Compare(rec.value, c.Value)
		case CompareVersion:
			cmp = cmpInt(rec.version, c.Number)
		case CompareModRevision:
			cmp = cmpInt(modRev, c.Number)
		case CompareCreateRevision:
			cmp = cmpInt(rec.create, c.Number)
		}
		var ok bool
		switch c.Result {
		case Equal:
			ok = cmp == 0
		case NotEqual:
			ok = cmp != 0
		case Less:
			ok = cmp < 0
		case Greater:
			ok = cmp > 0
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (b *batch) applyOp(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	switch op.Type {
	case OpPut:
		return b.put(index, ev, op)
	case OpDelete, OpExpire:
		return b.deleteOne(index, ev, op)
	case OpDeletePrefix:
		return b.deletePrefix(index, ev, op)
	case OpAppend:
		return OpResult{}, b.appendRecord(index, op)
	case OpTrim:
		dk := dataKey(op.Namespace, op.Key)
		b.forget(dk)
		return OpResult{}, b.wb.DeleteAt(dk, index)
	}
	return OpResult{}, fmt.Errorf("store: unknown op %d", op.Type)
}

func (b *batch) put(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	rev := int64(index)
	dk := dataKey(op.Namespace, op.Key)
	prev, prevRev, existed, err := b.lookup(dk, false)
	if err != nil {
		return OpResult{}, err
	}
	rec := record{create: rev, version: 1, expireAt: op.ExpireAt, value: op.Value}
	var out OpResult
	if existed {
		rec.create = prev.create
		rec.version = prev.version + 1
		out.Prev = prev.kv(op.Key, prevRev)
		if prev.expireAt != 0 {
			if err := b.wb.DeleteAt(ttlKey(prev.expireAt, op.Namespace, op.Key), index); err != nil {
				return out, err
			}
		}
	}
	if err := b.wb.SetEntryAt(badger.NewEntry(dk, rec.marshal()), index); err != nil {
		return out, err
	}
	if rec.expireAt != 0 {
		if err := b.wb.SetEntryAt(badger.NewEntry(ttlKey(rec.expireAt, op.Namespace, op.Key), u64bytes(index)), index); err != nil {
			return out, err
		}
	}
	b.note(dk, &rec, rev)
	return out, b.event(index, ev, op.Namespace, EventPut, op.Key, &rec)
}

func (b *batch) deleteOne(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	dk := dataKey(op.Namespace, op.Key)
	prev, prevRev, existed, err := b.lookup(dk, false)
	if err != nil || !existed {
		return OpResult{}, err
	}
	t := EventDelete
	if op.Type == OpExpire {
		// The key was written again after the leader decided to expire it.
		if prevRev != op.ModRevision {
			return OpResult{}, nil
		}
		t = EventExpire
	}
	return b.remove(index, ev, op.Namespace, op.Key, dk, prev, prevRev, t)
}

func (b *batch) remove(index uint64, ev *eventSeq, ns string, key, dk []byte, prev record, prevRev int64, t EventType) (OpResult, error) {
	out := OpResult{Prev: prev.kv(key, prevRev), Deleted: 1}
	if err := b.wb.DeleteAt(dk, index); err != nil {
		return out, err
	}
	if prev.expireAt != 0 {
		if err := b.wb.DeleteAt(ttlKey(prev.expireAt, ns, key), index); err != nil {
			return out, err
		}
	}
	b.forget(dk)
	gone := record{create: prev.create}
	return out, b.event(index, ev, ns, t, key, &gone)
}

// deletePrefix runs after a flush, so the read snapshot is complete and the
// overlay empty; keys are visited in order so every node emits the same
// events.
func (b *batch) deletePrefix(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	prefix := dataKey(op.Namespace, op.Key)
	nsLen := len(prefix) - len(op.Key)
	type victim struct {
		key    []byte
		rec    record
		modRev int64
	}
	var victims []victim
	it := b.read.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if _, hit := b.overlay[string(item.Key())]; hit {
			continue
		}
		raw, err := item.ValueCopy(nil)
		if err != nil {
			it.Close()
			return OpResult{}, err
		}
		rec, err := unmarshalRecord(raw)
		if err != nil {
			it.Close()
			return OpResult{}, err
		}
		victims = append(victims, victim{key: item.KeyCopy(nil), rec: rec, modRev: int64(item.Version())})
	}
	it.Close()
	for dk, o := range b.overlay {
		if !o.gone && bytes.HasPrefix([]byte(dk), prefix) {
			victims = append(victims, victim{key: []byte(dk), rec: o.rec, modRev: o.modRev})
		}
	}
	sort.Slice(victims, func(i, j int) bool { return bytes.Compare(victims[i].key, victims[j].key) < 0 })
	var out OpResult
	for _, v := range victims {
		key := v.key[nsLen:]
		if _, err := b.remove(index, ev, op.Namespace, key, v.key, v.rec, v.modRev, EventDelete); err != nil {
			return out, err
		}
		out.Deleted++
	}
	return out, nil
}

func (b *batch) event(index uint64, ev *eventSeq, ns string, t EventType, key []byte, rec *record) error {
	e := badger.NewEntry(eventKey(ns, int64(index), ev.next()), encodeEvent(t, key, rec))
	b.sm.marks.note(ns, key, int64(index))
	return b.wb.SetEntryAt(e, index)
}

// compact drops the change log below rev and lets Badger discard old
// versions (no further than the newest raft snapshot, which must stay
// streamable, unless a physical compaction asks: discard.go).
//
// The events' delete markers are written at version rev when no reader
// can see them there (startCompaction decides), not at the compaction's
// own index: at rev they are at Badger's discard timestamp once that
// reaches the compacted revision, so the events and their markers both go
// at the next compaction of the tree instead of lingering until the
// discard timestamp passes the compaction's index.
func (b *batch) compact(index uint64, rev int64) error {
	sm := b.sm
	if rev <= sm.compacted.Load() {
		return nil
	}
	if rev > int64(index) {
		rev = int64(index)
	}
	markAt := sm.startCompaction(rev, index)
	it := b.read.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEvent}})
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) < 13 {
			continue
		}
		if r := int64(beUint64(k[len(k)-12 : len(k)-4])); r < rev {
			if err := b.wb.DeleteAt(it.Item().KeyCopy(nil), markAt); err != nil {
				it.Close()
				return err
			}
		}
	}
	it.Close()
	if err := b.wb.SetEntryAt(badger.NewEntry(metaCompacted, u64bytes(uint64(rev))), index); err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	sm.updateDiscardTs()
	// The caller keeps using b: give it a fresh batch.
	*b = *sm.newBatch(index, 0)
	return nil
}

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func (r *record) kv(key []byte, modRev int64) *KV {
	return &KV{
		Key:            string(key),
		Value:          append([]byte(nil), r.value...),
		CreateRevision: r.create,
		ModRevision:    modRev,
		Version:        r.version,
		ExpireAt:       r.expireAt,
	}
}

// appendRecord is OpAppend: a blind write of a new key, without the read
// of a previous record and without a change-log event, so an append-only
// log costs one Badger write per entry.
func (b *batch) appendRecord(index uint64, op *Op) error {
	rev := int64(index)
	dk := dataKey(op.Namespace, op.Key)
	rec := record{create: rev, version: 1, value: op.Value}
	if err := b.wb.SetEntryAt(badger.NewEntry(dk, rec.marshal()), index); err != nil {
		return err
	}
	b.note(dk, &rec, rev)
	return nil
}
