package store

import (
	"context"
	"errors"
	"io"

	"github.com/trellis-cp/trellis/core/raft"
)

// AlarmType names a cluster alarm, with etcd's names.
type AlarmType string

const (
	// AlarmNoSpace: a member's state store passed the storage quota.
	AlarmNoSpace AlarmType = "NOSPACE"
	// AlarmCorrupt: a member's state hash disagreed with the others' at the
	// same revision.
	AlarmCorrupt AlarmType = "CORRUPT"
)

// Alarm is one raised alarm. Alarms are replicated: every node sees the same
// set at the same revision.
type Alarm struct {
	MemberID uint64    `json:"member_id"`
	Type     AlarmType `json:"type"`
}

var (
	// ErrNoSpace refuses a write to a module namespace while a NOSPACE alarm
	// is raised (core.* namespaces stay writable so operators can log in and
	// the audit log records the recovery).
	ErrNoSpace = errors.New("store: database space exceeded")
	// ErrAlarmCorrupt refuses a write to a module namespace while a CORRUPT
	// alarm is raised.
	ErrAlarmCorrupt = errors.New("store: a member's data is corrupt")
	// ErrNoAlarm is DisarmAlarm's answer for an alarm that is not raised.
	ErrNoAlarm = errors.New("store: no such alarm")
)

// HashResult is a member's hash of its key-value state at one revision.
type HashResult struct {
	Hash            uint32
	Revision        int64
	CompactRevision int64
}

// SnapshotInfo describes a snapshot file written by Snapshot or read by
// RestoreSnapshot.
type SnapshotInfo struct {
	Revision int64  `json:"revision"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// Alarms lists the raised alarms, sorted by member then type.
func (s *Store) Alarms() []Alarm { panic("TODO(issue 5): alarms") }

// RaiseAlarm raises a through raft. Raising a raised alarm is a no-op.
func (s *Store) RaiseAlarm(ctx context.Context, a Alarm) error {
	panic("TODO(issue 5): alarms")
}

// DisarmAlarm clears a through raft; ErrNoAlarm when it is not raised.
func (s *Store) DisarmAlarm(ctx context.Context, a Alarm) error {
	panic("TODO(issue 5): alarms")
}

// HashKV hashes this member's key-value data as of rev (0: the newest
// applied revision), after waiting until rev is applied here. Below the
// compacted revision it is ErrCompacted, above the cluster's it is
// ErrFutureRevision.
func (s *Store) HashKV(ctx context.Context, rev int64) (HashResult, error) {
	panic("TODO(issue 5): hashkv")
}

// StateSize is the state store's disk usage in bytes, measured now.
func (s *Store) StateSize() int64 { panic("TODO(issue 5): state size") }

// Defragment rewrites this member's state store without the space that
// compacted versions and overwritten values hold, and reports its disk
// usage before and after.
func (s *Store) Defragment(ctx context.Context) (before, after int64, err error) {
	panic("TODO(issue 5): defragment")
}

// CompactPhysical compacts like Compact, then drops the compacted versions
// from this member's files before it returns (etcd's physical compaction).
func (s *Store) CompactPhysical(ctx context.Context, rev int64) error {
	panic("TODO(issue 5): physical compaction")
}

// Snapshot writes a consistent snapshot of this member's state at its
// newest applied revision to w in the Trellis snapshot format.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	panic("TODO(issue 5): snapshot")
}

// RestoreSnapshot turns a snapshot written by Snapshot into the data
// directory of a new one-member cluster whose only member is m, with the
// same data at the same revision. dataDir must not hold raft or state data.
func RestoreSnapshot(ctx context.Context, r io.Reader, dataDir string, m raft.Member) (SnapshotInfo, error) {
	panic("TODO(issue 5): restore")
}
