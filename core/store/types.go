package store

import "errors"

// KV is one key as stored, with the revisions etcd users know: the raft
// index that created it, the one that last modified it, and how many times
// it was written since creation.
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
	Version        int64
	// ExpireAt is the Unix time in milliseconds when the key expires, 0 for
	// never. The leader deletes expired keys through raft, so a key is gone
	// on every node at the same revision.
	ExpireAt int64
}

// OpType is the kind of a write inside a command.
type OpType byte

const (
	OpPut OpType = iota + 1
	OpDelete
	OpDeletePrefix
	// OpExpire deletes a key only if its ModRevision is unchanged: the
	// leader proposes it when a TTL runs out.
	OpExpire
	// OpAppend writes a new key of an append-only log (the audit log):
	// no read of a previous record, no change-log event, version 1. The
	// key must not exist; an existing one is overwritten as new.
	OpAppend
	// OpTrim deletes a key of an append-only log: no read, no event.
	OpTrim
	opMax = OpTrim
)

// Op is one write.
type Op struct {
	Type      OpType
	Namespace string
	Key       []byte
	Value     []byte
	// ExpireAt (Unix ms) for puts with a TTL; decided by the proposer so
	// that apply stays deterministic.
	ExpireAt int64
	// ModRevision guards OpExpire.
	ModRevision int64
}

// CompareTarget is what a Compare looks at.
type CompareTarget byte

const (
	CompareValue CompareTarget = iota + 1
	CompareVersion
	CompareModRevision
	CompareCreateRevision
	targetMax = CompareCreateRevision
)

// CompareResult is the relation a Compare asks for.
type CompareResult byte

const (
	Equal CompareResult = iota + 1
	NotEqual
	Less
	Greater
	resultMax = Greater
)

// Compare is one condition of a transaction. A missing key has version,
// mod revision and create revision 0 and no value, so "create if absent" is
// Compare{Target: CompareVersion, Result: Equal, Number: 0}.
type Compare struct {
	Namespace string
	Key       []byte
	Target    CompareTarget
	Result    CompareResult
	Value     []byte
	Number    int64
}

// CommandKind is the kind of a replicated command.
type CommandKind byte

const (
	KindTxn CommandKind = iota + 1
	KindCompact
	// KindAlarm raises or disarms an alarm (AlarmAction, Alarm).
	KindAlarm
	kindMax = KindAlarm
)

// Command is what travels through raft.
type Command struct {
	Kind     CommandKind
	Compares []Compare
	Success  []Op
	Failure  []Op
	// Revision is the compaction target for KindCompact.
	Revision int64
	// AlarmAction and Alarm are what a KindAlarm command does.
	AlarmAction AlarmAction
	Alarm       Alarm
}

// OpResult is what one write did.
type OpResult struct {
	// Prev is the key before the write (nil when it did not exist): its
	// revisions, version and TTL. Its Value is not filled in, so writes
	// never read old values; read the key first if you need it.
	Prev *KV
	// Deleted counts keys removed by a delete.
	Deleted int64
}

// TxnResult is the outcome of a command on the node that proposed it.
type TxnResult struct {
	Succeeded bool
	// Revision is the store revision after the command.
	Revision  int64
	Responses []OpResult
}

// EventType says what happened to a key.
type EventType byte

const (
	EventPut EventType = iota + 1
	EventDelete
	EventExpire
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "PUT"
	case EventDelete:
		return "DELETE"
	case EventExpire:
		return "EXPIRE"
	}
	return "UNKNOWN"
}

// Event is one change seen by a watcher. For deletes KV holds the key and
// the revision of the delete in ModRevision.
type Event struct {
	Type EventType
	KV   KV
}

var (
	ErrNotFound       = errors.New("store: key not found")
	ErrCompacted      = errors.New("store: revision has been compacted")
	ErrFutureRevision = errors.New("store: revision is in the future")
	ErrEmptyKey       = errors.New("store: empty key")
	ErrKeyTooLarge    = errors.New("store: key too large")
	ErrValueTooLarge  = errors.New("store: value too large")
	ErrBadNamespace   = errors.New("store: bad namespace")
	ErrCorrupt        = errCorrupt
)

// Limits the store enforces on every namespace; modules enforce tighter ones.
const (
	MaxKeySize   = 8 << 10
	MaxValueSize = 4 << 20
)
