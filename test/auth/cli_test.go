package authtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/auth"
)

// cli runs the trellis binary with a private HOME and XDG_CONFIG_HOME and
// no TRELLIS_* settings from the caller's environment.
type cli struct {
	t    *testing.T
	bin  string
	home string
	env  []string
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

func buildCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "trellis")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/trellis-cp/trellis/cmd/trellis").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRELLIS_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "cfg"))
	return &cli{t: t, bin: bin, home: home, env: env}
}

// run runs the binary with args, stdin and extra environment.
func (c *cli) run(stdin string, extraEnv []string, args ...string) cliResult {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(append([]string(nil), c.env...), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run %v: %v", args, err)
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run("", nil, args...)
	if r.code != 0 || r.stderr != "" {
		c.t.Fatalf("trellis %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs args and expects exit 1 with one line on stderr containing
// want.
func (c *cli) fails(want string, args ...string) {
	c.t.Helper()
	r := c.run("", nil, args...)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "trellis: ") || !strings.Contains(lines[0], want) {
		c.t.Fatalf("trellis %s: want exit 1 and one line with %q; got %s", strings.Join(args, " "), want, r)
	}
}

func (c *cli) sessionFile() string { return filepath.Join(c.home, "cfg", "trellis", "session.json") }

// TestCLI drives `trellis login`, `user ...` and `logout` against a
// first-boot node.
func TestCLI(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 1, func(cfg *config.Config) { cfg.Auth.AdminPassword = "" })
	x := buildCLI(t)
	ep := c.node(1).base
	raw, err := os.ReadFile(filepath.Join(c.node(1).cfg.Node.DataDir, auth.InitialPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	initial := strings.TrimSpace(string(raw))

	// The first login must change the password; without a new one it fails.
	x.fails("must be changed", "login", "--endpoint", ep, "--password", initial)
	if _, err := os.Stat(x.sessionFile()); !os.IsNotExist(err) {
		t.Fatalf("a failed login left a session file: %v", err)
	}
	x.fails("401", "user", "list", "--endpoint", ep)
	out := x.ok("login", "--endpoint", ep, "--username", "admin", "--password", initial, "--new-password", "cli-admin-password")
	if !strings.Contains(out, "logged in to "+ep+" as admin") {
		t.Fatalf("login said %q", out)
	}
	fi, err := os.Stat(x.sessionFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(x.sessionFile())); di.Mode().Perm() != 0o700 {
		t.Fatalf("session dir mode %v", di.Mode().Perm())
	}
	var saved struct{ Endpoint, Token string }
	b, _ := os.ReadFile(x.sessionFile())
	if json.Unmarshal(b, &saved) != nil || saved.Endpoint != ep || saved.Token == "" {
		t.Fatalf("session file holds %s", b)
	}
	if r := get(t, c.url(1, "/metrics"), saved.Token); r.status != http.StatusOK {
		t.Fatalf("the saved token: %s", r)
	}

	// The saved session's endpoint is used without --endpoint.
	if out := x.ok("user", "create", "bob", "--role", "viewer", "--password", "bob-password"); !strings.Contains(out, "created user bob (roles: viewer)") {
		t.Fatalf("create: %q", out)
	}
	x.fails("409", "user", "create", "bob", "--role", "viewer", "--password", "bob-password")
	x.fails("400", "user", "create", "carl", "--role", "root", "--password", "carl-password")
	x.fails("400", "user", "create", "carl", "--role", "viewer", "--password", "short")
	x.fails(`required flag(s) "role"`, "user", "create", "carl", "--password", "carl-password")
	if r := x.run("carl-password\n", nil, "user", "create", "carl", "--role", "viewer"); r.code != 0 {
		t.Fatalf("create with the password on stdin: %s", r)
	}

	list := x.ok("user", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("list:\n%s", list)
	}
	for _, want := range []string{"admin", "bob", "carl"} {
		if !strings.Contains(list, "\n"+want+" ") {
			t.Fatalf("list lacks %s:\n%s", want, list)
		}
	}

	x.ok("user", "grant", "bob", "--role", "operator,viewer")
	x.fails("400", "user", "grant", "bob", "--role", "king")
	x.fails("404", "user", "grant", "nobody", "--role", "viewer")
	bobs := get(t, c.url(1, "/api/auth/users"), saved.Token).body
	if !strings.Contains(bobs, `"name":"bob","roles":["operator","viewer"]`) {
		t.Fatalf("grant did not set bob's roles: %s", bobs)
	}

	x.ok("user", "passwd", "bob", "--password", "bob-new-password")
	x.fails("400", "user", "passwd", "bob", "--password", "short")
	c.login(1, "bob", "bob-new-password")
	x.ok("user", "delete", "bob")
	x.fails("404", "user", "delete", "bob")
	x.fails("409", "user", "delete", "admin")
	wantJSONError(t, postJSON(t, http.MethodPost, c.url(1, "/api/auth/login"), "",
		map[string]string{"username": "bob", "password": "bob-new-password"}), http.StatusUnauthorized, "")

	// Another user's session, from the environment and --token.
	carl := x.run("", []string{"TRELLIS_ENDPOINT=" + ep, "TRELLIS_TOKEN=" + c.login(1, "carl", "carl-password")}, "user", "list")
	if carl.code != 1 || !strings.Contains(carl.stderr, "403") {
		t.Fatalf("user list as viewer: %s", carl)
	}
	x.fails("401", "user", "list", "--token", "not-a-token")

	// Logout closes the session on the node and removes the file.
	x.ok("logout")
	if _, err := os.Stat(x.sessionFile()); !os.IsNotExist(err) {
		t.Fatalf("session file after logout: %v", err)
	}
	if r := get(t, c.url(1, "/metrics"), saved.Token); r.status != http.StatusUnauthorized {
		t.Fatalf("token after logout: %s", r)
	}
	x.fails("401", "user", "list", "--endpoint", ep)
	x.fails("not logged in", "logout", "--endpoint", ep)

	// Password from the environment, then from stdin.
	if r := x.run("", []string{"TRELLIS_PASSWORD=cli-admin-password"}, "login", "--endpoint", ep); r.code != 0 {
		t.Fatalf("login with $TRELLIS_PASSWORD: %s", r)
	}
	x.ok("user", "list")
	if r := x.run("carl-password\n", nil, "login", "--endpoint", ep, "-u", "carl"); r.code != 0 || !strings.Contains(r.stdout, "as carl") {
		t.Fatalf("login with the password on stdin: %s", r)
	}
	x.fails("login as carl", "login", "--endpoint", ep, "-u", "carl", "--password", "wrong-password")
}
