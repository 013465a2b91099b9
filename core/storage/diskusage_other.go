//go:build !unix

package storage

import "io/fs"

// allocated falls back to the logical size where block counts are not
// available.
func allocated(fi fs.FileInfo) int64 { return fi.Size() }
