package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// serveFlags returns the serve flag set after parsing args, as cobra would.
func serveFlags(t testing.TB, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %q: %v", args, err)
	}
	return fs
}

// writeFile writes content to name in a fresh temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, fs *pflag.FlagSet, environ []string) *Config {
	t.Helper()
	c, err := Load(fs, environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// checkErr asserts err is one "config: ..." line containing every want.
func checkErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	msg := err.Error()
	t.Log(msg)
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, "config: ") {
		t.Errorf("error %q does not start with \"config: \"", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin", "operator", "kv", "tenant", "connector", "schema"} {
		if !d.Modules[name].Enabled {
			t.Errorf("module %s not enabled by default", name)
		}
	}
	if d.HTTP.MaxBodyBytes != 4194304 || d.HTTP.WriteTimeout != 0 || d.Raft.TickInterval != 100*time.Millisecond {
		t.Errorf("unexpected defaults: %+v", d)
	}
}

func TestLoadWithoutSourcesIsDefaults(t *testing.T) {
	t.Parallel()
	for name, fs := range map[string]*pflag.FlagSet{"nil flags": nil, "unset flags": serveFlags(t)} {
		c := mustLoad(t, fs, []string{"HOME=/root", "PATH=/bin", "trellis_http_addr=ignored:1"})
		if want := Defaults(); !reflect.DeepEqual(*c, want) {
			t.Errorf("%s: got %+v, want %+v", name, *c, want)
		}
	}
}

// TestShippedYAMLMatchesDefaults keeps config/trellis.yaml, the documented
// defaults, equal to Defaults().
func TestShippedYAMLMatchesDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, serveFlags(t, "--config", "trellis.yaml"), nil)
	if want := Defaults(); !reflect.DeepEqual(*c, want) {
		t.Errorf("trellis.yaml loads as\n%+v\nDefaults() is\n%+v", *c, want)
	}
}

// TestShippedYAMLDocumentsEveryKey checks trellis.yaml lists every key, each
// with a comment.
func TestShippedYAMLDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("trellis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(raw, ""), nil); err != nil {
		t.Fatal(err)
	}
	want := knownKeys()
	for _, m := range defaultModules {
		want = append(want, "modules."+m+".enabled")
	}
	slices.Sort(want)
	if got := ko.Keys(); !slices.Equal(got, want) {
		t.Errorf("trellis.yaml keys\n%v\nwant\n%v", got, want)
	}
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasSuffix(trimmed, ":") {
			continue // comment, blank or section header
		}
		if !strings.Contains(line, " # ") {
			t.Errorf("trellis.yaml:%d: key without a comment: %q", i+1, line)
		}
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "trellis.yaml", `
node:
  id: 2
  data_dir: /var/lib/trellis
http:
  addr: 127.0.0.1:8081
raft:
  addr: 127.0.0.1:7001
  snapshot_count: 200
modules:
  kv:
    enabled: false
log:
  level: debug
`)
	env := []string{
		"TRELLIS_HTTP_ADDR=127.0.0.1:8082",
		"TRELLIS_NODE_ID=3",
		"TRELLIS_RAFT_SNAPSHOT_COUNT=300",
		"TRELLIS_MODULES_KV_ENABLED=true",
		"TRELLIS_LOG_LEVEL=warn",
		"TRELLIS_AUTH_LOCKOUT_DURATION=1h",
	}
	flags := []string{"--http-addr", "127.0.0.1:8083", "--node-id", "4", "--log-level", "error"}

	type view struct {
		ID        uint64
		DataDir   string
		HTTPAddr  string
		RaftAddr  string
		Snapshots uint64
		KV        bool
		Level     string
		Lockout   time.Duration
	}
	project := func(c *Config) view {
		return view{c.Node.ID, c.Node.DataDir, c.HTTP.Addr, c.Raft.Addr, c.Raft.SnapshotCount,
			c.Modules["kv"].Enabled, c.Log.Level, c.Auth.LockoutDuration}
	}
	tests := []struct {
		name string
		fs   *pflag.FlagSet
		env  []string
		want view
	}{
		{"defaults", serveFlags(t), nil,
			view{1, "./data", "127.0.0.1:8080", "127.0.0.1:7000", 10000, true, "info", 15 * time.Minute}},
		{"file over defaults", serveFlags(t, "--config", file), nil,
			view{2, "/var/lib/trellis", "127.0.0.1:8081", "127.0.0.1:7001", 200, false, "debug", 15 * time.Minute}},
		{"env over file", serveFlags(t, "--config", file), env,
			view{3, "/var/lib/trellis", "127.0.0.1:8082", "127.0.0.1:7001", 300, true, "warn", time.Hour}},
		{"flags over env", serveFlags(t, append([]string{"--config", file}, flags...)...), env,
			view{4, "/var/lib/trellis", "127.0.0.1:8083", "127.0.0.1:7001", 300, true, "error", time.Hour}},
		{"flags over defaults", serveFlags(t, "--data-dir", "/d", "--raft-addr", ":0"), nil,
			view{1, "/d", "127.0.0.1:8080", ":0", 10000, true, "info", 15 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := project(mustLoad(t, tt.fs, tt.env)); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestUnsetFlagsDoNotOverride checks flag defaults shown in --help never
// beat the file, and that flags config does not own are ignored.
func TestUnsetFlagsDoNotOverride(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "t.yml", "http: {addr: '0.0.0.0:9000'}\nlog: {level: debug}\n")
	fs := serveFlags(t)
	fs.Bool("verbose", false, "not a config flag")
	if err := fs.Parse([]string{"--config", file, "--verbose"}); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, fs, nil)
	if c.HTTP.Addr != "0.0.0.0:9000" || c.Log.Level != "debug" || c.Node.ID != 1 {
		t.Errorf("got http.addr %q log.level %q node.id %d", c.HTTP.Addr, c.Log.Level, c.Node.ID)
	}
}

// kvOptions stands in for a module's defaults struct.
type kvOptions struct {
	MaxValueBytes int           `koanf:"max_value_bytes"`
	WatchTimeout  time.Duration `koanf:"watch_timeout"`
	Compact       bool          `koanf:"compact"`
	Prefixes      []string      `koanf:"prefixes"`
	Limits        struct {
		Keys uint64 `koanf:"keys"`
	} `koanf:"limits"`
}

func TestFileFormatsAgree(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"c.yaml": `
node: {id: 2, name: alpha, data_dir: /data}
http: {addr: ":8443", max_body_bytes: 1024, read_timeout: 1m, write_timeout: 0}
raft: {addr: "10.0.0.2:7000", initial_cluster: "1=10.0.0.1:7000,2=10.0.0.2:7000", election_ticks: 20}
auth: {enabled: false, session_ttl: 1h30m}
modules:
  kv: {enabled: true, max_value_bytes: 512, watch_timeout: 2s, compact: true, prefixes: [a, b], limits: {keys: 9}}
  schema: {enabled: false}
log: {format: json}
`,
		"c.toml": `
[node]
id = 2
name = "alpha"
data_dir = "/data"
[http]
addr = ":8443"
max_body_bytes = 1024
read_timeout = "1m"
write_timeout = 0
[raft]
addr = "10.0.0.2:7000"
initial_cluster = "1=10.0.0.1:7000,2=10.0.0.2:7000"
election_ticks = 20
[auth]
enabled = false
session_ttl = "1h30m"
[modules.kv]
enabled = true
max_value_bytes = 512
watch_timeout = "2s"
compact = true
prefixes = ["a", "b"]
limits = { keys = 9 }
[modules.schema]
enabled = false
[log]
format = "json"
`,
		"c.json": `{
 "node": {"id": 2, "name": "alpha", "data_dir": "/data"},
 "http": {"addr": ":8443", "max_body_bytes": 1024, "read_timeout": "1m", "write_timeout": 0},
 "raft": {"addr": "10.0.0.2:7000", "initial_cluster": "1=10.0.0.1:7000,2=10.0.0.2:7000", "election_ticks": 20},
 "auth": {"enabled": false, "session_ttl": "1h30m"},
 "modules": {"kv": {"enabled": true, "max_value_bytes": 512, "watch_timeout": "2s", "compact": true,
   "prefixes": ["a", "b"], "limits": {"keys": 9}}, "schema": {"enabled": false}},
 "log": {"format": "json"}
}`,
	}
	want := Defaults()
	want.Node = NodeConfig{ID: 2, Name: "alpha", DataDir: "/data"}
	want.HTTP.Addr, want.HTTP.MaxBodyBytes, want.HTTP.ReadTimeout = ":8443", 1024, time.Minute
	want.Raft.Addr, want.Raft.InitialCluster, want.Raft.ElectionTicks = "10.0.0.2:7000", "1=10.0.0.1:7000,2=10.0.0.2:7000", 20
	want.Auth.Enabled, want.Auth.SessionTTL = false, 90*time.Minute
	want.Modules["schema"] = ModuleConfig{Enabled: false}
	want.Log.Format = "json"
	wantKV := kvOptions{MaxValueBytes: 512, WatchTimeout: 2 * time.Second, Compact: true, Prefixes: []string{"a", "b"}}
	wantKV.Limits.Keys = 9

	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			c := mustLoad(t, serveFlags(t, "--config", writeFile(t, name, content)), nil)
			kv := c.Modules["kv"]
			if !kv.Enabled {
				t.Error("modules.kv.enabled = false")
			}
			var got kvOptions
			if err := DecodeModuleOptions("kv", kv.Options, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantKV) {
				t.Errorf("kv options %+v, want %+v", got, wantKV)
			}
			c.Modules["kv"] = ModuleConfig{Enabled: true}
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("got  %+v\nwant %+v", *c, want)
			}
			if c.SlogLevel() != slog.LevelInfo || c.NodeName() != "alpha" {
				t.Errorf("SlogLevel %v NodeName %q", c.SlogLevel(), c.NodeName())
			}
		})
	}
}

func TestModuleOptionsFromEnv(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "t.yaml", "modules:\n  kv: {max_value_bytes: 5}\n  extra_mod: {enabled: true}\n")
	env := []string{
		"TRELLIS_MODULES_KV_MAX_VALUE_BYTES=100",
		"TRELLIS_MODULES_KV_WATCH_TIMEOUT=3s",
		"TRELLIS_MODULES_KV_COMPACT=true",
		"TRELLIS_MODULES_EXTRA_MOD_ENABLED=false",
	}
	c := mustLoad(t, serveFlags(t, "--config", file), env)
	var got kvOptions
	got.MaxValueBytes = 1
	if err := DecodeModuleOptions("kv", c.Modules["kv"].Options, &got); err != nil {
		t.Fatal(err)
	}
	if got.MaxValueBytes != 100 || got.WatchTimeout != 3*time.Second || !got.Compact {
		t.Errorf("got %+v", got)
	}
	if !c.Modules["kv"].Enabled || c.Modules["extra_mod"].Enabled {
		t.Errorf("modules: %+v", c.Modules)
	}
	checkErr(t, c.CheckModules(defaultModules), "modules.extra_mod", "unknown module")
}

func TestDecodeModuleOptions(t *testing.T) {
	t.Parallel()
	defaults := func() kvOptions { return kvOptions{MaxValueBytes: 64, WatchTimeout: time.Second} }

	got := defaults()
	if err := DecodeModuleOptions("kv", nil, &got); err != nil || !reflect.DeepEqual(got, defaults()) {
		t.Errorf("nil options: %+v, %v", got, err)
	}
	got = defaults()
	if err := DecodeModuleOptions("kv", map[string]any{"compact": true, "watch_timeout": "1m"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.MaxValueBytes != 64 || got.WatchTimeout != time.Minute || !got.Compact {
		t.Errorf("defaults not kept: %+v", got)
	}

	// Lists replace the default rather than merging element by element.
	got = defaults()
	got.Prefixes = []string{"z", "y", "x"}
	if err := DecodeModuleOptions("kv", map[string]any{"prefixes": []any{"a"}}, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Prefixes, []string{"a"}) {
		t.Errorf("prefixes = %q, want [a]", got.Prefixes)
	}

	errs := []struct {
		opts map[string]any
		want []string
	}{
		{map[string]any{"max_value_byte": 1}, []string{"modules.kv.max_value_byte", "unknown key", "max_value_bytes"}},
		{map[string]any{"max_value_bytes": "lots"}, []string{"modules.kv.max_value_bytes", `"lots"`}},
		{map[string]any{"max_value_bytes": 1.5}, []string{"modules.kv.max_value_bytes", "1.5"}},
		{map[string]any{"compact": 1}, []string{"modules.kv.compact", "true or false"}},
		{map[string]any{"watch_timeout": "soon"}, []string{"modules.kv.watch_timeout", "duration"}},
		{map[string]any{"limits": map[string]any{"kees": 1}}, []string{"modules.kv.limits", "kees"}},
		{map[string]any{"Compact": true}, []string{"modules.kv.Compact", "unknown key"}},
		{map[string]any{"limits": map[string]any{"keys": "many"}}, []string{"modules.kv.limits.keys"}},
		{map[string]any{"prefixes": map[string]any{"a": 1}}, []string{"modules.kv.prefixes"}},
	}
	for _, e := range errs {
		got := defaults()
		checkErr(t, DecodeModuleOptions("kv", e.opts, &got), e.want...)
	}
	checkErr(t, DecodeModuleOptions("kv", nil, got), "modules.kv", "pointer to a struct")
}

func TestCheckModules(t *testing.T) {
	t.Parallel()
	c := Defaults()
	if err := c.CheckModules(defaultModules); err != nil {
		t.Fatal(err)
	}
	checkErr(t, c.CheckModules([]string{"admin", "kv"}), "modules.connector", "unknown module", "known: admin, kv")
}

// TestLoadErrors covers every start-up failure: each must be one line naming
// the key, variable, flag or file at fault.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cert := write("cert.pem", "cert")
	key := write("key.pem", "key")
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name string
		file string // file name and content; "" for none
		body string
		args []string // extra flags
		env  []string
		want []string // FILE is replaced by the file's path
	}{
		{name: "unknown key yaml", file: "a.yaml", body: "http:\n  adr: x:1\n",
			want: []string{"FILE", "http.adr", "unknown key", "did you mean http.addr?"}},
		{name: "unknown key toml", file: "a.toml", body: "[raft]\nsnapshot_cont = 5\n",
			want: []string{"FILE", "raft.snapshot_cont", "unknown key"}},
		{name: "unknown key json", file: "a.json", body: `{"nodes": {"id": 1}}`,
			want: []string{"FILE", "nodes.id", "unknown key"}},
		{name: "unknown top-level key", file: "a.yaml", body: "bogus: 1\n",
			want: []string{"FILE", "bogus", "unknown key"}},
		{name: "key in wrong case", file: "a.yaml", body: "HTTP:\n  ADDR: x:1\n",
			want: []string{"FILE", "HTTP.ADDR", "unknown key"}},
		{name: "unknown key with newline", file: "a.yaml", body: "\"a\\nb\": 1\n",
			want: []string{"FILE", `"a\nb"`, "unknown key"}},
		{name: "section as value", file: "a.yaml", body: "http: 5\n",
			want: []string{"FILE", "http", "is a section", "http.addr"}},
		{name: "value as section", file: "a.yaml", body: "http:\n  addr:\n    host: x\n",
			want: []string{"FILE", "http.addr.host", "unknown key"}},
		{name: "module not a section", file: "a.yaml", body: "modules:\n  kv: true\n",
			want: []string{"FILE", "modules.kv", "want a section"}},
		{name: "wrong type string for uint", file: "a.yaml", body: "raft:\n  snapshot_count: lots\n",
			want: []string{"FILE", "raft.snapshot_count", "non-negative integer", `"lots"`}},
		{name: "wrong type negative uint", file: "a.yaml", body: "node:\n  id: -1\n",
			want: []string{"FILE", "node.id", "-1"}},
		{name: "wrong type number for string", file: "a.yaml", body: "http:\n  addr: 8080\n",
			want: []string{"FILE", "http.addr", "want a string", "8080"}},
		{name: "wrong type bool", file: "a.yaml", body: "auth:\n  enabled: yes\n",
			want: []string{"FILE", "auth.enabled", "true or false", `"yes"`}},
		{name: "wrong type module enabled", file: "a.toml", body: "[modules.kv]\nenabled = \"no\"\n",
			want: []string{"FILE", "modules.kv.enabled", "true or false"}},
		{name: "duration without unit", file: "a.yaml", body: "auth:\n  lockout_duration: 15\n",
			want: []string{"FILE", "auth.lockout_duration", "duration"}},
		{name: "fractional int in json", file: "a.json", body: `{"raft": {"election_ticks": 2.5}}`,
			want: []string{"FILE", "raft.election_ticks", "2.5"}},
		{name: "int overflow", file: "a.yaml", body: "raft:\n  heartbeat_ticks: 99999999999999999999\n",
			want: []string{"FILE", "raft.heartbeat_ticks"}},
		{name: "parse error", file: "a.yaml", body: "http:\n  addr: [\n",
			want: []string{"parse FILE"}},
		{name: "parse error json", file: "a.json", body: "{",
			want: []string{"parse FILE"}},
		{name: "parse error multi-line yaml", file: "a.yaml", body: "- 1\n- 2\n",
			want: []string{"parse FILE"}},
		{name: "unknown extension", file: "a.ini", body: "x=1",
			want: []string{"FILE", `unknown config format ".ini"`}},
		{name: "no extension", file: "trellis", body: "",
			want: []string{"FILE", "unknown config format"}},
		{name: "nonexistent file", args: []string{"--config", filepath.Join(dir, "nope.yaml")},
			want: []string{"read " + filepath.Join(dir, "nope.yaml"), "no such file"}},
		{name: "directory as file", args: []string{"--config", dir + "/sub.yaml"},
			want: []string{"read " + dir + "/sub.yaml", "is a directory"}},
		{name: "unknown env var", env: []string{"TRELLIS_HTTP_ADR=x:1"},
			want: []string{"TRELLIS_HTTP_ADR", "no such config key", "TRELLIS_HTTP_ADDR"}},
		{name: "unknown env vars counted", env: []string{"TRELLIS_B=1", "TRELLIS_A=1"},
			want: []string{"TRELLIS_A", "and 1 more"}},
		{name: "unknown module env var", env: []string{"TRELLIS_MODULES_NOPE_ENABLED=true"},
			want: []string{"TRELLIS_MODULES_NOPE_ENABLED", "no such config key"}},
		{name: "env wrong type", env: []string{"TRELLIS_RAFT_SNAPSHOT_COUNT=lots"},
			want: []string{"TRELLIS_RAFT_SNAPSHOT_COUNT", "raft.snapshot_count", `"lots"`}},
		{name: "env hex int rejected", env: []string{"TRELLIS_RAFT_ELECTION_TICKS=0x10"},
			want: []string{"TRELLIS_RAFT_ELECTION_TICKS", "raft.election_ticks"}},
		{name: "env bad duration", env: []string{"TRELLIS_HTTP_READ_TIMEOUT=100"},
			want: []string{"TRELLIS_HTTP_READ_TIMEOUT", "http.read_timeout", "duration"}},
		{name: "env bad bool", env: []string{"TRELLIS_MODULES_KV_ENABLED=maybe"},
			want: []string{"TRELLIS_MODULES_KV_ENABLED", "modules.kv.enabled"}},
		{name: "bad address from file", file: "a.yaml", body: "http:\n  addr: localhost\n",
			want: []string{`config: http.addr: "localhost" is not HOST:PORT`, "set by FILE"}},
		{name: "bad port from env", env: []string{"TRELLIS_RAFT_ADDR=127.0.0.1:99999"},
			want: []string{"raft.addr", "port must be a number 0-65535", "set by TRELLIS_RAFT_ADDR"}},
		{name: "bad address from flag", args: []string{"--http-addr", "nope"},
			want: []string{"http.addr", `"nope"`, "set by --http-addr"}},
		{name: "node id zero", args: []string{"--node-id", "0"},
			want: []string{"node.id", "greater than 0", "--node-id"}},
		{name: "empty data dir", env: []string{"TRELLIS_NODE_DATA_DIR="},
			want: []string{"node.data_dir", "TRELLIS_NODE_DATA_DIR"}},
		{name: "initial cluster syntax", args: []string{"--initial-cluster", "1=127.0.0.1:7000,two"},
			want: []string{"raft.initial_cluster", `"two"`}},
		{name: "initial cluster bad id", args: []string{"--initial-cluster", "0=127.0.0.1:7000"},
			want: []string{"raft.initial_cluster", `ID "0"`}},
		{name: "initial cluster duplicate id", args: []string{"--initial-cluster", "1=127.0.0.1:7000,1=127.0.0.1:7001"},
			want: []string{"raft.initial_cluster", "1 appears twice"}},
		{name: "initial cluster without this node", args: []string{"--initial-cluster", "2=127.0.0.1:7000"},
			want: []string{"raft.initial_cluster", "node.id 1"}},
		{name: "initial cluster address mismatch", args: []string{"--initial-cluster", "1=10.0.0.1:7000,2=10.0.0.2:7000"},
			want: []string{"raft.initial_cluster", `"10.0.0.1:7000"`, `raft address is "127.0.0.1:7000"`}},
		{name: "advertise is every interface", args: []string{"--raft-advertise-addr", "0.0.0.0:7000"},
			want: []string{"raft.advertise_addr", "every interface", "--raft-advertise-addr"}},
		{name: "advertise without a port", args: []string{"--http-advertise-addr", "10.0.0.1:0"},
			want: []string{"http.advertise_addr", "non-zero port"}},
		{name: "bind all without advertise, joining", args: []string{"--raft-addr", "0.0.0.0:7000", "--join", "10.0.0.2:8080"},
			env:  []string{"TRELLIS_RAFT_JOIN_TOKEN=t"},
			want: []string{"raft.advertise_addr", "is required", "raft.addr"}},
		{name: "bind all, initial cluster names the real address", args: []string{"--raft-addr", "0.0.0.0:7000", "--initial-cluster", "1=10.0.0.1:7000,2=10.0.0.2:7000"},
			want: []string{"raft.advertise_addr", "is required"}},
		{name: "join with multi-member cluster",
			args: []string{"--initial-cluster", "1=127.0.0.1:7000,2=127.0.0.1:7001", "--join", "127.0.0.1:8081"},
			want: []string{"raft.join", "raft.initial_cluster", "--join"}},
		{name: "join bad", args: []string{"--join", "ftp://x:1"},
			want: []string{"raft.join", `"ftp://x:1"`}},
		{name: "tls cert without key", env: []string{"TRELLIS_HTTP_TLS_CERT_FILE=" + cert},
			want: []string{"http.tls.key_file", "http.tls.cert_file"}},
		{name: "tls key without cert", file: "a.yaml", body: "raft:\n  tls:\n    key_file: " + key + "\n",
			want: []string{"raft.tls.cert_file", "set by FILE"}},
		{name: "tls ca without cert", env: []string{"TRELLIS_RAFT_TLS_CA_FILE=" + cert},
			want: []string{"raft.tls.ca_file"}},
		{name: "tls file missing",
			env:  []string{"TRELLIS_HTTP_TLS_CERT_FILE=" + missing, "TRELLIS_HTTP_TLS_KEY_FILE=" + key},
			want: []string{"http.tls.cert_file", "read " + missing, "no such file"}},
		{name: "log level", env: []string{"TRELLIS_LOG_LEVEL=loud"},
			want: []string{"log.level", `"loud"`}},
		{name: "log format", file: "a.yaml", body: "log:\n  format: xml\n",
			want: []string{"log.format", `"xml"`}},
		{name: "snapshot count zero", env: []string{"TRELLIS_RAFT_SNAPSHOT_COUNT=0"},
			want: []string{"raft.snapshot_count"}},
		{name: "election not above heartbeat", env: []string{"TRELLIS_RAFT_HEARTBEAT_TICKS=10"},
			want: []string{"raft.election_ticks", "raft.heartbeat_ticks"}},
		{name: "heartbeat zero", env: []string{"TRELLIS_RAFT_HEARTBEAT_TICKS=0"},
			want: []string{"raft.heartbeat_ticks"}},
		{name: "lockout threshold negative", env: []string{"TRELLIS_AUTH_LOCKOUT_THRESHOLD=-1"},
			want: []string{"auth.lockout_threshold"}},
		{name: "negative duration", env: []string{"TRELLIS_HTTP_WRITE_TIMEOUT=-1s"},
			want: []string{"http.write_timeout", "negative"}},
		{name: "tick interval zero", env: []string{"TRELLIS_RAFT_TICK_INTERVAL=0s"},
			want: []string{"raft.tick_interval"}},
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file, tt.body)
				args = append([]string{"--config", path}, args...)
			}
			c, err := Load(serveFlags(t, args...), tt.env)
			if c != nil {
				t.Errorf("got a config with the error")
			}
			want := slices.Clone(tt.want)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "FILE", path)
			}
			checkErr(t, err, want...)
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root can read a mode 000 file")
	}
	path := writeFile(t, "secret.yaml", "log: {level: debug}\n")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := Load(serveFlags(t, "--config", path), nil)
	checkErr(t, err, "config: read "+path+": permission denied")
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is(%v, fs.ErrPermission) = false", err)
	}
}

func TestNonexistentFileIsNotExist(t *testing.T) {
	t.Parallel()
	_, err := Load(serveFlags(t, "--config", filepath.Join(t.TempDir(), "x.yaml")), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

func TestEnvIntegersAreDecimal(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, nil, []string{"TRELLIS_RAFT_ELECTION_TICKS=010", "TRELLIS_AUTH_ENABLED=false"})
	if c.Raft.ElectionTicks != 10 || c.Auth.Enabled {
		t.Errorf("election_ticks %d auth.enabled %v", c.Raft.ElectionTicks, c.Auth.Enabled)
	}
}

func TestNullValuesAreUnset(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "n.yaml", "http:\n  addr:\nraft:\nmodules:\n  kv:\n")
	c := mustLoad(t, serveFlags(t, "--config", file), nil)
	if want := Defaults(); !reflect.DeepEqual(*c, want) {
		t.Errorf("got %+v, want defaults", *c)
	}
}

func TestTLSConfigured(t *testing.T) {
	t.Parallel()
	cert := writeFile(t, "cert.pem", "c")
	key := writeFile(t, "key.pem", "k")
	c := mustLoad(t, nil, []string{
		"TRELLIS_HTTP_TLS_CERT_FILE=" + cert, "TRELLIS_HTTP_TLS_KEY_FILE=" + key, "TRELLIS_HTTP_TLS_CA_FILE=" + cert,
	})
	if !c.HTTP.TLS.Enabled() || c.Raft.TLS.Enabled() {
		t.Errorf("tls: http %+v raft %+v", c.HTTP.TLS, c.Raft.TLS)
	}
}

func TestJoinForms(t *testing.T) {
	t.Parallel()
	good := []string{"10.0.0.1:8080", "node-1:8080", "http://10.0.0.1:8080", "https://[::1]:8443/", "[fe80::1]:80"}
	bad := []string{"10.0.0.1", ":8080", "10.0.0.1:0", "http://10.0.0.1", "http://x:1/path", "http://u@x:1", "tcp://x:1", "x:y"}
	for _, s := range good {
		if err := checkJoin(s); err != nil {
			t.Errorf("checkJoin(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if err := checkJoin(s); err == nil {
			t.Errorf("checkJoin(%q) = nil, want an error", s)
		}
	}
	c := Defaults()
	c.Raft.Join = "http://10.0.0.1:8080"
	c.Raft.InitialCluster = "1=127.0.0.1:7000" // one member plus join is allowed
	checkErr(t, c.Validate(), "raft.join_token", "required")
	c.Raft.JoinToken = "secret"
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	c.Raft.JoinToken, c.Auth.Enabled = "", false // development: no auth, no token
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestClientVariablesDoNotStopServe(t *testing.T) {
	t.Parallel()
	env := []string{"TRELLIS_PASSWORD=x", "TRELLIS_TOKEN=y", "TRELLIS_ENDPOINT=http://127.0.0.1:1", "TRELLIS_NEW_PASSWORD=z"}
	if _, err := Load(nil, env); err != nil {
		t.Fatalf("client variables refused by serve: %v", err)
	}
}

func TestParseInitialCluster(t *testing.T) {
	t.Parallel()
	got, err := ParseInitialCluster(" 1=10.0.0.1:7000, 2 = 10.0.0.2:7000 ,3=[::1]:7000")
	want := map[uint64]string{1: "10.0.0.1:7000", 2: "10.0.0.2:7000", 3: "[::1]:7000"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if got, err := ParseInitialCluster(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	for _, s := range []string{
		"1", "=x:1", "a=x:1", "0=x:1", "-1=x:1", "1=x", "1=:7000", "1=x:0", "1=x:1,", ",1=x:1",
		"1=x:1,1=y:1", "1=x:1,2=x:1", "18446744073709551616=x:1",
	} {
		if _, err := ParseInitialCluster(s); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseInitialCluster(%q) error = %v, want one line", s, err)
		}
	}
}

func TestInitialMembers(t *testing.T) {
	t.Parallel()
	c := Defaults()
	if got, err := c.InitialMembers(); err != nil || !reflect.DeepEqual(got, map[uint64]string{1: "127.0.0.1:7000"}) {
		t.Errorf("one-node: %v, %v", got, err)
	}
	c.Raft.InitialCluster = "1=127.0.0.1:7000,2=127.0.0.1:7001"
	if got, err := c.InitialMembers(); err != nil || len(got) != 2 {
		t.Errorf("two-node: %v, %v", got, err)
	}
}

func TestNodeNameAndSlogLevel(t *testing.T) {
	t.Parallel()
	c := Defaults()
	c.Node.ID = 7
	if got := c.NodeName(); got != "node-7" {
		t.Errorf("NodeName = %q", got)
	}
	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		c.Log.Level = level
		if got := c.SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

// TestEnvNamesAreUnique guards the env mapping: two keys must never share a
// variable name.
func TestEnvNamesAreUnique(t *testing.T) {
	if len(schema.env) != len(schema.leaves) {
		t.Errorf("%d env names for %d keys", len(schema.env), len(schema.leaves))
	}
	for name, key := range schema.env {
		if got, ok := envKey(name, defaultModules); !ok || got != key {
			t.Errorf("envKey(%q) = %q, %v; want %q", name, got, ok, key)
		}
	}
}

func FuzzParseInitialCluster(f *testing.F) {
	for _, s := range []string{"", "1=127.0.0.1:7000", "1=a:1,2=b:2,3=[::1]:3", "1=x:1,1=y:2", "0=:0", "1=a:1,,", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, err := ParseInitialCluster(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for id, addr := range members {
			if id == 0 || seen[addr] || checkHostPort(addr, true) != nil {
				t.Fatalf("accepted bad member %d=%q from %q", id, addr, s)
			}
			seen[addr] = true
		}
	})
}

func FuzzLoadYAML(f *testing.F) {
	for _, s := range []string{
		"",
		"http:\n  addr: 127.0.0.1:0\n",
		"modules:\n  kv: {enabled: false, x: [1, {a: b}]}\n",
		"raft: {snapshot_count: lots}\n",
		"1: 2\n? [a]\n: b\n",
		"a: &x {b: *x}\n",
		"\"a\\nb\": 1\nmodules: {\"k\\tv\": {}}\n",
		"node: {id: 18446744073709551615}\nauth: {lockout_duration: 0}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		RegisterFlags(fs)
		if err := fs.Parse([]string{"--config", path}); err != nil {
			t.Fatal(err)
		}
		c, err := Load(fs, nil)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned a config that fails Validate: %v", err)
		}
	})
}

// TestStorageQuotaKeys: the quota keys load from a file and from the
// environment, and bad values name their key.
func TestStorageQuotaKeys(t *testing.T) {
	cfg, err := Load(nil, []string{"TRELLIS_STORAGE_QUOTA_BYTES=1048576", "TRELLIS_STORAGE_QUOTA_CHECK_INTERVAL=250ms"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.QuotaBytes != 1<<20 || cfg.Storage.QuotaCheckInterval != 250*time.Millisecond {
		t.Fatalf("storage from env: %+v", cfg.Storage)
	}
	for env, key := range map[string]string{
		"TRELLIS_STORAGE_QUOTA_BYTES=-1":          "storage.quota_bytes",
		"TRELLIS_STORAGE_QUOTA_BYTES=lots":        "storage.quota_bytes",
		"TRELLIS_STORAGE_QUOTA_CHECK_INTERVAL=0s": "storage.quota_check_interval",
	} {
		if _, err := Load(nil, []string{env}); err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("%s: err %v, want one naming %s", env, err, key)
		}
	}
}

// TestAutoCompactionKeys: periodic with an hour by default; each mode
// loads from a file and the environment; a mode without its amount, an
// unknown mode and a bad amount name their key.
func TestAutoCompactionKeys(t *testing.T) {
	def := Defaults().Storage
	if def.AutoCompactionMode != "periodic" || def.AutoCompactionRetention != time.Hour {
		t.Fatalf("default auto-compaction: %+v", def)
	}
	file := writeFile(t, "t.yaml", "storage:\n  auto_compaction_mode: revision\n  auto_compaction_revisions: 5000\n")
	c := mustLoad(t, serveFlags(t, "--config", file), nil)
	if c.Storage.AutoCompactionMode != "revision" || c.Storage.AutoCompactionRevisions != 5000 {
		t.Fatalf("storage from file: %+v", c.Storage)
	}
	c, err := Load(nil, []string{"TRELLIS_STORAGE_AUTO_COMPACTION_MODE=off", "TRELLIS_STORAGE_AUTO_COMPACTION_RETENTION=0s"})
	if err != nil {
		t.Fatalf("mode off with no retention: %v", err)
	}
	if c.Storage.AutoCompactionMode != "off" {
		t.Fatalf("storage from env: %+v", c.Storage)
	}
	for _, tc := range []struct {
		env  []string
		key  string
		text string
	}{
		{[]string{"TRELLIS_STORAGE_AUTO_COMPACTION_RETENTION=0s"}, "storage.auto_compaction_retention", "periodic mode"},
		{[]string{"TRELLIS_STORAGE_AUTO_COMPACTION_RETENTION=-1h"}, "storage.auto_compaction_retention", "greater than 0"},
		{[]string{"TRELLIS_STORAGE_AUTO_COMPACTION_RETENTION=hourly"}, "storage.auto_compaction_retention", "duration"},
		{[]string{"TRELLIS_STORAGE_AUTO_COMPACTION_MODE=revision"}, "storage.auto_compaction_revisions", "revision mode"},
		{[]string{"TRELLIS_STORAGE_AUTO_COMPACTION_MODE=revision", "TRELLIS_STORAGE_AUTO_COMPACTION_REVISIONS=many"}, "storage.auto_compaction_revisions", ""},
		{[]string{"TRELLIS_STORAGE_AUTO_COMPACTION_MODE=daily"}, "storage.auto_compaction_mode", "not periodic, revision or off"},
	} {
		_, err := Load(nil, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%v: err %v, want one naming %s (%q)", tc.env, err, tc.key, tc.text)
		}
	}
}

// manifestOptions stands in for core/plugin.Manifest (config cannot import
// it): the same kinds of fields.
type manifestOptions struct {
	MemoryPages  uint32            `koanf:"memory_pages"`
	CallTimeout  time.Duration     `koanf:"call_timeout"`
	AllowedHosts []string          `koanf:"allowed_hosts"`
	Config       map[string]string `koanf:"config"`
}

func TestPluginManifests(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "t.yaml", `plugins:
  max_module_bytes: 1000
  manifests:
    webhook:
      memory_pages: 512
      call_timeout: 5s
      allowed_hosts: ["hooks.example.com", "*.internal:8443"]
      config: {url: "https://hooks.example.com/in", retries: "3"}
    bare: {}
`)
	c := mustLoad(t, serveFlags(t, "--config", file), nil)
	if c.Plugins.MaxModuleBytes != 1000 || c.Plugins.Dir != "./plugins" {
		t.Errorf("plugins = %+v", c.Plugins)
	}
	var m manifestOptions
	if err := DecodeManifest("webhook", c.Plugins.Manifests["webhook"], &m); err != nil {
		t.Fatal(err)
	}
	want := manifestOptions{MemoryPages: 512, CallTimeout: 5 * time.Second,
		AllowedHosts: []string{"hooks.example.com", "*.internal:8443"},
		Config:       map[string]string{"url": "https://hooks.example.com/in", "retries": "3"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("webhook manifest = %+v, want %+v", m, want)
	}
	if bare, ok := c.Plugins.Manifests["bare"]; !ok || len(bare) != 0 {
		t.Errorf("bare manifest = %v (present %v), want an empty section", bare, ok)
	}

	// Errors name the key under plugins.manifests.<name>.
	checkErr(t, DecodeManifest("webhook", map[string]any{"memory_page": 1}, &m),
		"plugins.manifests.webhook.memory_page", "unknown key", "memory_pages")
	checkErr(t, DecodeManifest("webhook", map[string]any{"call_timeout": "soon"}, &m),
		"plugins.manifests.webhook.call_timeout", "duration")
	checkErr(t, DecodeManifest("webhook", map[string]any{"allowed_hosts": map[string]any{"a": 1}}, &m),
		"plugins.manifests.webhook.allowed_hosts")

	for content, want := range map[string][]string{
		"plugins:\n  manifests:\n    Bad.Name: {}\n": {"plugins.manifests"},
		"plugins:\n  manifests:\n    BAD: {}\n":      {"plugins.manifests.BAD", "a plugin name is"},
		"plugins:\n  manifests:\n    webhook: 3\n":   {"plugins.manifests.webhook", "want a section"},
		"plugins:\n  manifests: 3\n":                 {"plugins.manifests", "is a section"},
		"plugins:\n  max_module_bytes: 0\n":          {"plugins.max_module_bytes", "greater than 0"},
		"plugins:\n  manifest:\n    webhook: {}\n":   {"plugins.manifest", "unknown key"},
	} {
		_, err := Load(serveFlags(t, "--config", writeFile(t, "bad.yaml", content)), nil)
		checkErr(t, err, want...)
	}
	// Manifests are file-only: plugin names do not map to variable names.
	_, err := Load(nil, []string{"TRELLIS_PLUGINS_MANIFESTS_WEBHOOK_MEMORY_PAGES=5"})
	checkErr(t, err, "TRELLIS_PLUGINS_MANIFESTS_WEBHOOK_MEMORY_PAGES")
}

// TestAdvertiseAddrs: the advertise addresses default to the listen
// addresses; set, they are what the node tells the others, and an
// initial cluster must name this node by its raft advertise address. A
// node with peers on a wildcard HTTP address is flagged for a warning.
func TestAdvertiseAddrs(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.RaftAdvertise() != c.Raft.Addr || c.HTTPAdvertise() != c.HTTP.Addr {
		t.Fatalf("defaults: raft %q http %q, want the listen addresses", c.RaftAdvertise(), c.HTTPAdvertise())
	}
	c = mustLoad(t, serveFlags(t, "--raft-addr", "0.0.0.0:7000", "--raft-advertise-addr", "10.0.0.1:7000",
		"--http-addr", "0.0.0.0:8080", "--http-advertise-addr", "10.0.0.1:8080",
		"--initial-cluster", "1=10.0.0.1:7000,2=10.0.0.2:7000"), nil)
	if c.RaftAdvertise() != "10.0.0.1:7000" || c.HTTPAdvertise() != "10.0.0.1:8080" || c.HTTPUnreachable() {
		t.Fatalf("advertised: raft %q http %q unreachable %v", c.RaftAdvertise(), c.HTTPAdvertise(), c.HTTPUnreachable())
	}
	members, err := c.InitialMembers()
	if err != nil || members[1] != "10.0.0.1:7000" {
		t.Fatalf("initial members %v, %v", members, err)
	}
	c = mustLoad(t, serveFlags(t, "--http-addr", ":8080", "--initial-cluster", "1=127.0.0.1:7000,2=127.0.0.1:7001"), nil)
	if !c.HTTPUnreachable() {
		t.Fatal("a wildcard HTTP address with peers is not flagged")
	}
	c = mustLoad(t, serveFlags(t, "--http-addr", ":8080"), nil)
	if c.HTTPUnreachable() {
		t.Fatal("a one-node cluster on a wildcard HTTP address is flagged")
	}
}
