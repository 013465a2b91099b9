package store

import "errors"

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
// RestoreSnapshot (the format is in snapshotfile.go).
type SnapshotInfo struct {
	// Revision is the revision the state was taken at.
	Revision int64 `json:"revision"`
	// Size is the whole file's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the whole file, as sha256sum prints it.
	SHA256 string `json:"sha256"`
}
