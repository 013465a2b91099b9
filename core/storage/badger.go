package storage

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// badgerLogger routes Badger's own logging into slog at debug level for
// chatter and warn/error for problems. A line is formatted only when its
// level is enabled: Badger calls Debugf on every write request.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }

func (b badgerLogger) log(level slog.Level, f string, a []any) {
	ctx := context.Background()
	if b.l.Enabled(ctx, level) {
		b.l.Log(ctx, level, fmt.Sprintf(f, a...))
	}
}

// StateValueThreshold is the value size from which the state store keeps
// values in its value log; smaller ones live in the LSM tree. Values in the tree are
// reclaimed by compaction alone, while value-log space comes back only when
// GC finds a file mostly garbage, so writers of many mid-sized values (the
// audit log's batches) keep them under this size.
const StateValueThreshold = 64 << 10

// baseOptions are the state store's Badger settings: small tables suit a
// control plane whose state is megabytes, not terabytes. Memtables are 64
// MiB: under sustained writes each memtable flush (an L0 table written and
// synced) and the compactions behind it held up the raft log's fsyncs; with
// 16 MiB memtables a 3-node cluster under test/loadkv put load had p99 32–40
// ms and slowest requests 68–86 ms, with 64 MiB 24–28 ms and 37–52 ms at the
// same throughput (four runs each, docs/benchmarks.md). An idle node does
// not pay for the size: arena pages are touched only as writes fill them.
func baseOptions(dir string, logger *slog.Logger) badger.Options {
	if logger == nil {
		logger = slog.Default()
	}
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{logger}).
		WithSyncWrites(false).
		WithMemTableSize(64 << 20).
		WithBaseTableSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(StateValueThreshold).
		WithNumCompactors(2).
		WithBlockCacheSize(32 << 20).
		WithCompression(options.None).
		WithNumMemtables(3).
		WithIndexCacheSize(8 << 20).
		WithDetectConflicts(false)
}
