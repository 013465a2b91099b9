// Package conformance checks that every plugin Trellis ships and every
// example runs the SDK's conformance kit (sdk/plugintest.RunConformance)
// in its own tests, which make test runs.
package conformance

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestEveryPluginRunsTheKit(t *testing.T) {
	for _, root := range []string{"../../plugins", "../../examples/plugins"} {
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			n++
			tests, err := filepath.Glob(filepath.Join(root, e.Name(), "*_test.go"))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range tests {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				found = found || bytes.Contains(b, []byte("plugintest.RunConformance("))
			}
			if !found {
				t.Errorf("%s/%s: no test runs plugintest.RunConformance", root, e.Name())
			}
		}
		if n == 0 {
			t.Errorf("%s: no plugins found", root)
		}
	}
}
