package operator

import (
	"testing"
	"time"
)

// TestOpsSnapshotFilename checks the download's file name is etcdmonitor's
// pattern, in UTC, with a member name safe in a header and a file name.
func TestOpsSnapshotFilename(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))
	if got := opsSnapshotFilename("node-2", at); got != "trellis-snapshot-node-2-20260304-040607.db" {
		t.Fatalf("got %q", got)
	}
	if got := opsSnapshotFilename(`a "b"/c`, at); got != "trellis-snapshot-a__b__c-20260304-040607.db" {
		t.Fatalf("got %q", got)
	}
}
