package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// DiskUsage is the space the state store's files take on disk right now:
// the blocks allocated to every file under its directory, not their logical
// sizes. Badger preallocates its memtable and value-log files sparsely and
// mmaps them, so logical sizes overstate what is used, and Badger's own
// Size refreshes only once a minute.
func (s *StateDB) DiskUsage() (int64, error) { return dirUsage(s.dir) }

// dirUsage sums the allocated size of the files under dir. Files Badger
// deletes while the walk runs are skipped.
func dirUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += allocated(fi)
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("storage: disk usage of %s: %w", dir, err)
	}
	return total, nil
}
