package schema

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI: trellis schema create, list, bind, validate, unbind and delete
// against a two-node cluster, each command on either node.
func TestCLI(t *testing.T) {
	c := start(t, 2)
	run := func(i int, wantErr bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(trellisBin, append(args, "--endpoint", c.tc.URL(i, ""), "--token", c.token)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if (err != nil) != wantErr {
			t.Fatalf("trellis %s: err %v, want error %v\n%s", strings.Join(args, " "), err, wantErr, out)
		}
		return string(out)
	}
	file := filepath.Join(t.TempDir(), "temp.json")
	if err := os.WriteFile(file, []byte(objSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(1, false, "schema", "create", "temp", "--type", "json", "--file", file, "--desc", "temperatures"); !strings.Contains(out, "created json schema temp in tenant default") {
		t.Fatalf("create printed %q", out)
	}
	out := run(2, true, "schema", "create", "broken", `{"type":"objekt"}`, "--type", "json")
	if !strings.Contains(out, "400") || !strings.Contains(out, "does not accept this schema") {
		t.Fatalf("bad schema printed %q", out)
	}
	if out := run(2, false, "schema", "list"); !strings.Contains(out, "default  temp  json") || !strings.Contains(out, "temperatures") {
		t.Fatalf("list printed %q", out)
	}
	run(2, false, "schema", "bind", "temp", "sensor/+")
	if out := run(1, false, "schema", "list", "--bindings"); !strings.Contains(out, "temp") || !strings.Contains(out, "sensor/+") {
		t.Fatalf("list --bindings printed %q", out)
	}
	if out := run(1, false, "schema", "validate", "--topic", "sensor/a", `{"temp": 3}`); !strings.Contains(out, "valid (checked: temp)") {
		t.Fatalf("valid payload printed %q", out)
	}
	out = run(2, true, "schema", "validate", "--schema", "temp", `{"temp": "hot"}`)
	if !strings.Contains(out, "invalid: temp (json): at /temp") || !strings.Contains(out, "payload is not valid") {
		t.Fatalf("invalid payload printed %q", out)
	}
	if out := run(1, true, "schema", "delete", "temp"); !strings.Contains(out, "409") || !strings.Contains(out, "sensor/+") {
		t.Fatalf("delete of a bound schema printed %q", out)
	}
	run(1, false, "schema", "unbind", "temp", "sensor/+")
	if out := run(2, false, "schema", "delete", "temp"); !strings.Contains(out, "deleted schema temp") {
		t.Fatalf("delete printed %q", out)
	}
	if out := run(1, false, "schema", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("list after delete printed %q", out)
	}
}
