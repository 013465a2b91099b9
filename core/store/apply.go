package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

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
	rec  record
	rev  revision
	gone bool
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

// lookup returns the key's current record and where it is, or ok=false.
// The record's value is filled in only when withValue is set: the key
// index answers everything else without touching Badger.
func (b *batch) lookup(ns string, dk []byte, withValue bool) (rec record, at revision, ok bool, err error) {
	rec, at, meta, err := b.find(ns, dk, withValue)
	return rec, at, meta != nil, err
}

// find is lookup that also returns the key's entry in the key index (nil
// when the key does not exist), for note to update in place: a put then
// looks its key up in the index once.
func (b *batch) find(ns string, dk []byte, withValue bool) (rec record, at revision, meta *keyMeta, err error) {
	if o, hit := b.overlay[string(dk)]; hit {
		if o.gone {
			return record{}, revision{}, nil, nil
		}
		return o.rec, o.rev, b.sm.index[string(dk)], nil
	}
	meta = b.sm.index[string(dk)]
	if meta == nil {
		return record{}, revision{}, nil, nil
	}
	rec = record{create: meta.create, version: meta.version, expireAt: meta.expireAt}
	if !withValue {
		return rec, meta.rev(), meta, nil
	}
	full, err := readRecord(b.read, ns, dk, meta.rev())
	if err != nil {
		return record{}, revision{}, nil, err
	}
	return full, meta.rev(), meta, nil
}

// readRecord reads the record written at r: the change-log event, or for a
// plain record the data key dk. Its value is a copy.
func readRecord(txn *badger.Txn, ns string, dk []byte, r revision) (record, error) {
	k := dk
	if !r.plain {
		k = eventKey(ns, r.main, r.sub)
	}
	item, err := txn.Get(k)
	if err != nil {
		return record{}, fmt.Errorf("store: read %q at %d.%d: %w", dk, r.main, r.sub, err)
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return record{}, fmt.Errorf("store: read %q at %d.%d: %w", dk, r.main, r.sub, err)
	}
	if r.plain {
		return unmarshalRecord(raw)
	}
	_, _, rec, err := decodeEventRecord(raw)
	return rec, err
}

// note records a write at r in the overlay (the batch's own reads), the
// key index (every later batch's) and, unless it is a plain record, the
// revision index (everyone's reads at r or later; a plain record is read
// from its data key). meta is the key's entry in the key index as find
// returned it, updated in place; nil when the key did not exist.
func (b *batch) note(dk []byte, meta *keyMeta, rec *record, r revision) {
	k := string(dk) // one copy for every map
	b.overlay[k] = overlayRec{rec: *rec, rev: r}
	var h *keyHistory
	if meta != nil {
		h = meta.hist
	} else {
		meta = &keyMeta{}
		b.sm.index[k] = meta
	}
	*meta = keyMeta{create: rec.create, version: rec.version, modRev: r.main, expireAt: rec.expireAt, sub: r.sub, plain: r.plain}
	if !r.plain {
		revs := b.sm.revs.Load()
		if h != nil {
			revs.putTo(h, r)
		} else {
			h = revs.put(k, r)
		}
		meta.hist = h
	}
}

// forget records a delete at r the same way.
func (b *batch) forget(dk []byte, r revision) {
	k := string(dk)
	b.overlay[k] = overlayRec{gone: true}
	delete(b.sm.index, k)
	if !r.plain {
		b.sm.revs.Load().tombstone(k, r)
	}
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
		rec, at, exists, err := b.lookup(c.Namespace, dataKey(c.Namespace, c.Key), c.Target == CompareValue)
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
			cmp = cmpInt(at.main, c.Number)
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
		return OpResult{}, b.appendRecord(index, ev, op)
	case OpTrim:
		dk := dataKey(op.Namespace, op.Key)
		b.forget(dk, revision{main: int64(index), plain: true})
		return OpResult{}, b.wb.DeleteAt(dk, index)
	}
	return OpResult{}, fmt.Errorf("store: unknown op %d", op.Type)
}

func (b *batch) put(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	rev := int64(index)
	dk := dataKey(op.Namespace, op.Key)
	prev, prevAt, meta, err := b.find(op.Namespace, dk, false)
	if err != nil {
		return OpResult{}, err
	}
	rec := record{create: rev, version: 1, expireAt: op.ExpireAt, value: op.Value}
	var out OpResult
	if meta != nil {
		rec.create = prev.create
		rec.version = prev.version + 1
		out.Prev = prev.kv(op.Key, prevAt.main)
		if prevAt.plain { // an append-only record written over: its data key goes
			if err := b.wb.DeleteAt(dk, index); err != nil {
				return out, err
			}
		}
		if prev.expireAt != 0 {
			if err := b.wb.DeleteAt(ttlKey(prev.expireAt, op.Namespace, op.Key), index); err != nil {
				return out, err
			}
		}
	}
	if rec.expireAt != 0 {
		if err := b.wb.SetEntryAt(badger.NewEntry(ttlKey(rec.expireAt, op.Namespace, op.Key), u64bytes(index)), index); err != nil {
			return out, err
		}
	}
	seq, err := b.event(index, ev, op.Namespace, EventPut, op.Key, &rec)
	b.note(dk, meta, &rec, revision{main: rev, sub: seq})
	return out, err
}

func (b *batch) deleteOne(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	dk := dataKey(op.Namespace, op.Key)
	prev, prevAt, existed, err := b.lookup(op.Namespace, dk, false)
	if err != nil || !existed {
		return OpResult{}, err
	}
	t := EventDelete
	if op.Type == OpExpire {
		// The key was written again after the leader decided to expire it.
		if prevAt.main != op.ModRevision {
			return OpResult{}, nil
		}
		t = EventExpire
	}
	return b.remove(index, ev, op.Namespace, op.Key, dk, prev, prevAt, t)
}

func (b *batch) remove(index uint64, ev *eventSeq, ns string, key, dk []byte, prev record, prevAt revision, t EventType) (OpResult, error) {
	out := OpResult{Prev: prev.kv(key, prevAt.main), Deleted: 1}
	if prevAt.plain {
		if err := b.wb.DeleteAt(dk, index); err != nil {
			return out, err
		}
	}
	if prev.expireAt != 0 {
		if err := b.wb.DeleteAt(ttlKey(prev.expireAt, ns, key), index); err != nil {
			return out, err
		}
	}
	gone := record{create: prev.create}
	seq, err := b.event(index, ev, ns, t, key, &gone)
	b.forget(dk, revision{main: int64(index), sub: seq})
	return out, err
}

// deletePrefix visits the keys under the prefix in order, so every node
// emits the same events. The revision index already holds this batch's
// writes, the overlay its plain records; lookup reads what is current.
func (b *batch) deletePrefix(index uint64, ev *eventSeq, op *Op) (OpResult, error) {
	prefix := dataKey(op.Namespace, op.Key)
	nsLen := len(prefix) - len(op.Key)
	var victims []string
	b.sm.revs.Load().rangeAt(string(prefix), prefixEnd(prefix), int64(index), func(k string, _ revision) bool {
		victims = append(victims, k)
		return true
	})
	// Plain records: in the read snapshot, or written by this batch.
	it := b.read.NewIterator(badger.IteratorOptions{Prefix: prefix})
	for it.Rewind(); it.Valid(); it.Next() {
		victims = append(victims, string(it.Item().Key()))
	}
	it.Close()
	for k, o := range b.overlay {
		if !o.gone && o.rev.plain && strings.HasPrefix(k, string(prefix)) {
			victims = append(victims, k)
		}
	}
	slices.Sort(victims)
	victims = slices.Compact(victims)
	var out OpResult
	for _, k := range victims {
		dk := []byte(k)
		prev, prevAt, ok, err := b.lookup(op.Namespace, dk, true)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		if _, err := b.remove(index, ev, op.Namespace, dk[nsLen:], dk, prev, prevAt, EventDelete); err != nil {
			return out, err
		}
		out.Deleted++
	}
	return out, nil
}

// prefixEnd is the first key after every key that starts with p, as a
// string; "" when there is none.
func prefixEnd(p []byte) string {
	end := []byte(string(p))
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return string(end[:i+1])
		}
	}
	return ""
}

// event writes a change-log event at index and returns its position.
func (b *batch) event(index uint64, ev *eventSeq, ns string, t EventType, key []byte, rec *record) (uint32, error) {
	seq := ev.next()
	e := badger.NewEntry(eventKey(ns, int64(index), seq), encodeEvent(t, key, rec))
	b.sm.marks.note(ns, key, int64(index))
	return seq, b.wb.SetEntryAt(e, index)
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
	// Below rev the index keeps, for each key, the record a read at rev
	// sees; those events stay.
	kept := sm.revs.Load().compact(rev)
	it := b.read.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEvent}})
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		_, r, err := splitEventKey(k)
		if err != nil {
			continue
		}
		if _, keep := kept[r]; r.main < rev && !keep {
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
func (b *batch) appendRecord(index uint64, ev *eventSeq, op *Op) error {
	rev := int64(index)
	dk := dataKey(op.Namespace, op.Key)
	// A key of the revision index written over (never, by the logs that
	// append) is deleted first, so that its history says so.
	prev, at, meta, err := b.find(op.Namespace, dk, false)
	if err != nil {
		return err
	}
	if meta != nil && !at.plain {
		if _, err := b.remove(index, ev, op.Namespace, op.Key, dk, prev, at, EventDelete); err != nil {
			return err
		}
		meta = nil // remove took the key out of the index
	}
	rec := record{create: rev, version: 1, value: op.Value}
	if err := b.wb.SetEntryAt(badger.NewEntry(dk, rec.marshal()), index); err != nil {
		return err
	}
	b.note(dk, meta, &rec, revision{main: rev, plain: true})
	return nil
}
