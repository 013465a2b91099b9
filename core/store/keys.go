package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Key layout inside the state store. Every module namespace is a prefix, so
// a module can never read or write another's keys.
//
//	k<ns>\x00<key>               a plain record (OpAppend), at version = its revision
//	w<ns>\x00<rev:8><seq:4>      the change log: every other record, and what watchers read
//	x<expire-ms:8><ns>\x00<key>  TTL index, scanned by the leader
//	m<name>                      store metadata (applied index, members, ...)
const (
	tagData  = 'k'
	tagEvent = 'w'
	tagTTL   = 'x'
	tagMeta  = 'm'
)

// stateLayout is the key layout this build writes and reads. Layout 2
// keeps a key's records only as change-log events (layout 1 also wrote
// each version under the key itself); it is recorded in metaLayout when a
// state store is created, and a store of another layout is refused.
const stateLayout = 2

var (
	metaApplied   = []byte("mapplied")
	metaCompacted = []byte("mcompacted")
	metaReadFloor = []byte("mreadfloor")
	// metaLayout is the layout of the state store (stateLayout).
	metaLayout = []byte("mlayout")
	metaMember = []byte("mmember/")
	// metaAlarm/<member:8><type> holds a raised alarm (alarm.go).
	metaAlarm = []byte("malarm/")
)

// ValidNamespace reports whether name can be a namespace: 1–64 characters
// of [a-z0-9_.-].
func ValidNamespace(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func nsPrefix(tag byte, ns string) []byte {
	b := make([]byte, 0, len(ns)+2)
	b = append(b, tag)
	b = append(b, ns...)
	return append(b, 0)
}

func dataKey(ns string, key []byte) []byte {
	return append(nsPrefix(tagData, ns), key...)
}

func eventKey(ns string, rev int64, seq uint32) []byte {
	b := nsPrefix(tagEvent, ns)
	b = binary.BigEndian.AppendUint64(b, uint64(rev))
	return binary.BigEndian.AppendUint32(b, seq)
}

// splitEventKey returns the namespace of a change-log key and the
// revision it names.
func splitEventKey(k []byte) (string, revision, error) {
	if len(k) < 14 || k[0] != tagEvent || k[len(k)-13] != 0 {
		return "", revision{}, fmt.Errorf("store: bad event key %q", k)
	}
	n := len(k)
	r := revision{main: int64(binary.BigEndian.Uint64(k[n-12 : n-4])), sub: binary.BigEndian.Uint32(k[n-4:])}
	return string(k[1 : n-13]), r, nil
}

func ttlKey(expireAt int64, ns string, key []byte) []byte {
	b := make([]byte, 0, 10+len(ns)+len(key))
	b = append(b, tagTTL)
	b = binary.BigEndian.AppendUint64(b, uint64(expireAt))
	b = append(b, ns...)
	b = append(b, 0)
	return append(b, key...)
}

// splitTTLKey returns the expiry, namespace and key of a TTL index key.
func splitTTLKey(k []byte) (int64, string, []byte, error) {
	if len(k) < 10 || k[0] != tagTTL {
		return 0, "", nil, fmt.Errorf("store: bad ttl key %q", k)
	}
	at := int64(binary.BigEndian.Uint64(k[1:9]))
	rest := k[9:]
	for i, c := range rest {
		if c == 0 {
			return at, string(rest[:i]), rest[i+1:], nil
		}
	}
	return 0, "", nil, fmt.Errorf("store: bad ttl key %q", k)
}

func memberKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), metaMember...), id)
}

// record is the value stored under a data key; the mod revision is the
// Badger version of the item, so it is not repeated here.
type record struct {
	create   int64
	version  int64
	expireAt int64
	value    []byte
}

func (r *record) marshal() []byte {
	e := encoder{b: make([]byte, 0, len(r.value)+16)}
	e.i64(r.create)
	e.i64(r.version)
	e.i64(r.expireAt)
	e.b = append(e.b, r.value...)
	return e.b
}

func unmarshalRecord(b []byte) (record, error) {
	d := decoder{b: b}
	r := record{create: d.i64(), version: d.i64(), expireAt: d.i64()}
	if d.err != nil {
		return record{}, d.err
	}
	r.value = d.b
	return r, nil
}

func encodeEvent(t EventType, key []byte, r *record) []byte {
	e := encoder{b: make([]byte, 0, len(key)+len(r.value)+20)}
	e.byte1(byte(t))
	e.bytes(key)
	e.i64(r.create)
	e.i64(r.version)
	e.i64(r.expireAt)
	e.b = append(e.b, r.value...)
	return e.b
}

// eventHasPrefix reports whether the event encoded in b is of a key with
// prefix, without decoding the rest (a watcher skips other keys' events
// cheaply). A corrupt event reports true, so that decodeEvent reports it.
func eventHasPrefix(b, prefix []byte) bool {
	d := decoder{b: b}
	d.byte1()
	key := d.bytes()
	return d.err != nil || bytes.HasPrefix(key, prefix)
}

// decodeEventRecord returns an event's type and key and the key's record
// as the event left it; key and value alias b.
func decodeEventRecord(b []byte) (EventType, []byte, record, error) {
	d := decoder{b: b}
	t := EventType(d.byte1())
	key := d.bytes()
	rec := record{create: d.i64(), version: d.i64(), expireAt: d.i64()}
	if d.err != nil {
		return 0, nil, record{}, d.err
	}
	rec.value = d.b
	return t, key, rec, nil
}

func decodeEvent(b []byte, modRev int64) (Event, error) {
	d := decoder{b: b}
	ev := Event{Type: EventType(d.byte1())}
	ev.KV.Key = string(d.bytes())
	ev.KV.CreateRevision = d.i64()
	ev.KV.Version = d.i64()
	ev.KV.ExpireAt = d.i64()
	if d.err != nil {
		return Event{}, d.err
	}
	ev.KV.Value = append([]byte(nil), d.b...)
	ev.KV.ModRevision = modRev
	return ev, nil
}
