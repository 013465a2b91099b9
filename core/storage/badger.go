package storage

import (
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// badgerLogger routes Badger's own logging into slog at debug level for
// chatter and warn/error for problems.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug(fmt.Sprintf(f, a...)) }

// StateValueThreshold is the value size from which the state store keeps
// values in its value log; smaller ones live in the LSM tree. Values in the tree are
// reclaimed by compaction alone, while value-log space comes back only when
// GC finds a file mostly garbage, so writers of many mid-sized values (the
// audit log's batches) keep them under this size.
const StateValueThreshold = 64 << 10

// baseOptions are the state store's Badger settings: small tables and
// memtables suit a control plane whose state is megabytes, not terabytes,
// and keep idle memory low.
func baseOptions(dir string, logger *slog.Logger) badger.Options {
	if logger == nil {
		logger = slog.Default()
	}
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{logger}).
		WithSyncWrites(false).
		WithMemTableSize(16 << 20).
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
