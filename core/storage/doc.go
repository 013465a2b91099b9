// Package storage keeps Trellis's two Badger instances: the raft log
// (LogStore, an ordinary Badger with SyncWrites off and one explicit Sync per
// raft Ready that needs it) and the state store (StateDB, Badger in managed
// mode where the version timestamp of every key is the raft index that wrote
// it). Keeping them apart lets the log be fsynced on its own schedule and lets
// the state store use raft indexes as MVCC revisions.
package storage
