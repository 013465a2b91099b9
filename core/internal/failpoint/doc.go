// Package failpoint injects crashes and delays at named points of the raft
// and storage code, for the robustness tests (test/robustness), the way
// etcd's gofail failpoints do.
//
// Failpoints exist only in binaries built with the build tag "failpoints";
// in every other build Hit is an empty function the compiler removes. With
// the tag, the environment variable TRELLIS_FAILPOINTS arms them: a comma
// separated list of name=action, where action is
//
//	kill         the process kills itself with SIGKILL at the first hit
//	kill@N       ... at the N-th hit
//	sleep:D      sleeps for the duration D (e.g. 200ms) at every hit
//
// The points are listed in Names.
package failpoint

// Names are the failpoints the code defines.
var Names = []string{
	"raftBeforeSave",               // a Ready's entries and hard state are about to be written
	"raftAfterSave",                // ... were written and fsynced, nothing sent or applied after
	"raftBeforeApply",              // committed entries are about to enter the state machine
	"raftBeforeSnapshotRestore",    // a received snapshot is recorded in the log, not yet in the state
	"storageDuringSnapshotRestore", // the state store was cleared and a snapshot is being loaded (every read of at most 256 KiB)
}
