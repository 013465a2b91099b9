// Package storage keeps a node's durable state: the raft log (LogStore, an
// append-only write-ahead log of zero-filled segments with one fdatasync per
// raft Ready that needs it, read through raft's MemoryStorage) and the state
// store (StateDB, Badger in managed mode where the version timestamp of every
// key is the raft index that wrote it). Keeping them apart lets the log be
// fsynced on its own schedule and lets the state store use raft indexes as
// MVCC revisions.
package storage
