package config

import "testing"

// TestFailpointsVariableDoesNotStopServe: TRELLIS_FAILPOINTS is read by the
// failpoint package, not the config; serve used to refuse it as an unknown
// key, so a failpoints build could never be armed (test/robustness).
func TestFailpointsVariableDoesNotStopServe(t *testing.T) {
	t.Parallel()
	env := []string{"TRELLIS_FAILPOINTS=raftBeforeSave=kill@3,raftAfterSave=sleep:10ms"}
	if _, err := Load(nil, env); err != nil {
		t.Fatalf("TRELLIS_FAILPOINTS refused by serve: %v", err)
	}
	// A misspelling is still an unknown key.
	if _, err := Load(nil, []string{"TRELLIS_FAILPOINT=raftBeforeSave=kill"}); err == nil {
		t.Fatal("TRELLIS_FAILPOINT (misspelt) accepted")
	}
}
