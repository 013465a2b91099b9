package config

import "testing"

// TestProcessVariablesDoNotStopServe: TRELLIS_FAILPOINTS is read by the
// failpoint package and TRELLIS_SHIPPED_PLUGINS by the node, not the
// config; serve used to refuse them as unknown keys, so a failpoints build
// could never be armed (test/robustness) and a packager could not move the
// shipped plugins.
func TestProcessVariablesDoNotStopServe(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"TRELLIS_FAILPOINTS=raftBeforeSave=kill@3,raftAfterSave=sleep:10ms",
		"TRELLIS_SHIPPED_PLUGINS=/usr/lib/trellis/plugins",
	} {
		if _, err := Load(nil, []string{v}); err != nil {
			t.Fatalf("%s refused by serve: %v", v, err)
		}
	}
	// A misspelling is still an unknown key.
	for _, v := range []string{"TRELLIS_FAILPOINT=raftBeforeSave=kill", "TRELLIS_SHIPPED_PLUGIN=/x"} {
		if _, err := Load(nil, []string{v}); err == nil {
			t.Fatalf("%s (misspelt) accepted", v)
		}
	}
}
