package node

import (
	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/store"
)

// autoCompaction is the store's compactor for the storage section's
// auto_compaction_* keys (validated by config): the zero value, none, in
// mode off.
func autoCompaction(c config.StorageConfig) store.AutoCompaction {
	switch c.AutoCompactionMode {
	case "periodic":
		return store.AutoCompaction{Retention: c.AutoCompactionRetention}
	case "revision":
		return store.AutoCompaction{Revisions: c.AutoCompactionRevisions}
	}
	return store.AutoCompaction{}
}
