package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

func FuzzDebugYAML(f *testing.F) {
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		os.WriteFile(fmt.Sprintf("/tmp/cfgwork/last-%d", os.Getpid()), b, 0o600)
		path := filepath.Join(t.TempDir(), "fuzz.yaml")
		os.WriteFile(path, b, 0o600)
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		RegisterFlags(fs)
		fs.Parse([]string{"--config", path})
		Load(fs, nil)
	})
}
