// Package schema tests the schema module end to end: real nodes over
// loopback, real validator plugins built from source.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/sdk/plugintest"
	"github.com/trellis-cp/trellis/test/internal/testnode"

	_ "github.com/trellis-cp/trellis/modules/schema"
)

const adminPassword = "schema-test-password"

var (
	// shippedDir holds the shipped validators, built by TestMain.
	shippedDir string
	// wasm holds the test plugins (equals, loop) by name.
	wasm = map[string]string{}
	// trellisBin is the CLI.
	trellisBin string
	// cacheDir is the plugin compilation cache every test node shares, so
	// each module is compiled once per run rather than once per node.
	cacheDir string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "trellis-schema-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shippedDir = filepath.Join(dir, "shipped")
	cacheDir = filepath.Join(dir, "plugin-cache")
	for _, name := range shipped {
		if _, err := plugintest.BuildTo("../../plugins/"+name, shippedDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	for name, src := range map[string]string{"equals": "../../sdk/plugintest/testdata/equals", "loop": "testdata/loop"} {
		out, err := plugintest.BuildTo(src, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		wasm[name] = out
	}
	trellisBin = filepath.Join(dir, "trellis")
	if out, err := exec.Command("go", "build", "-o", trellisBin, "../../cmd/trellis").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build trellis: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// shipped are the validators Trellis ships, loaded by every test node.
var shipped = []string{"json", "avro", "protobuf"}

type cluster struct {
	t     *testing.T
	tc    *testnode.Cluster
	token string
	dirs  []string
}

// start starts size nodes with the shipped validators and an empty
// plugins.dir each, and logs in as admin.
func start(t *testing.T, size int, tweak ...func(*config.Config)) *cluster {
	t.Helper()
	t.Setenv(node.EnvShippedPlugins, shippedDir)
	c := &cluster{t: t}
	for range size {
		c.dirs = append(c.dirs, t.TempDir())
	}
	i := 0
	c.tc = testnode.Start(t, size, func(cfg *config.Config) {
		cfg.HTTP.RateLimit = 0
		cfg.Auth.AdminPassword = adminPassword
		cfg.Plugins.Dir = c.dirs[i]
		cfg.Plugins.CacheDir = cacheDir
		cfg.Modules["schema"] = config.ModuleConfig{Enabled: true}
		i++
		for _, f := range tweak {
			f(cfg)
		}
	})
	c.token = c.login("admin", adminPassword)
	return c
}

func (c *cluster) login(user, password string) string {
	var tok string
	testnode.Eventually(c.t, 20*time.Second, user+" can log in", func() bool {
		r := c.call(1, http.MethodPost, "/api/auth/login", "", map[string]string{"username": user, "password": password})
		var ans struct {
			Token string `json:"session_token"`
		}
		_ = json.Unmarshal(r.body, &ans)
		tok = ans.Token
		return r.status == http.StatusOK && tok != ""
	})
	return tok
}

// resp is an HTTP answer.
type resp struct {
	status int
	body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// wasmBody is a module sent as application/wasm.
type wasmBody []byte

// call sends body (raw []byte, or marshalled as JSON) with token.
func (c *cluster) call(i int, method, path, token string, body any) resp {
	c.t.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case wasmBody:
		rd = bytes.NewReader(b)
		contentType = "application/wasm"
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.tc.URL(i, path), rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b}
}

// do calls as admin.
func (c *cluster) do(i int, method, path string, body any) resp {
	c.t.Helper()
	return c.call(i, method, path, c.token, body)
}

// ok calls as admin and decodes the success envelope's data into out.
func (c *cluster) ok(i int, method, path string, body, out any) {
	c.t.Helper()
	r := c.do(i, method, path, body)
	var env struct {
		Code  int             `json:"code"`
		Data  json.RawMessage `json:"data"`
		Error *string         `json:"error"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &env) != nil || env.Code != 0 || env.Error != nil {
		c.t.Fatalf("%s %s on node %d: %s, want a success envelope", method, path, i, r)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			c.t.Fatalf("%s %s: data %s: %v", method, path, env.Data, err)
		}
	}
}

// fail checks a RobustMQ error envelope with status and a message
// containing want.
func (c *cluster) fail(r resp, status int, want string) {
	c.t.Helper()
	var env struct {
		Code  int     `json:"code"`
		Data  string  `json:"data"`
		Error *string `json:"error"`
	}
	if r.status != status || json.Unmarshal(r.body, &env) != nil || env.Code != 100 || env.Error == nil {
		c.t.Fatalf("got %s, want %d with an error envelope", r, status)
	}
	if !strings.Contains(*env.Error, want) {
		c.t.Fatalf("error %q does not contain %q", *env.Error, want)
	}
}

// schemaRow is a row of the schema list.
type schemaRow struct {
	Tenant  string `json:"tenant"`
	Name    string `json:"name"`
	Type    string `json:"schema_type"`
	Desc    string `json:"desc"`
	Schema  string `json:"schema"`
	Message string `json:"message"`
}

type page[T any] struct {
	Data       []T `json:"data"`
	TotalCount int `json:"total_count"`
}

func (c *cluster) schemas(i int, query string) page[schemaRow] {
	c.t.Helper()
	var p page[schemaRow]
	c.ok(i, http.MethodGet, "/api/cluster/schema/list?"+query, nil, &p)
	return p
}

type bindRow struct {
	DataType string   `json:"data_type"`
	Data     []string `json:"data"`
	Tenant   string   `json:"tenant"`
	Name     string   `json:"name"`
}

func (c *cluster) bindings(i int, query string) page[bindRow] {
	c.t.Helper()
	var p page[bindRow]
	c.ok(i, http.MethodGet, "/api/cluster/schema-bind/list?"+query, nil, &p)
	return p
}

type verdict struct {
	Valid  bool `json:"valid"`
	Errors []struct {
		Schema    string `json:"schema_name"`
		Type      string `json:"schema_type"`
		Resource  string `json:"resource_name"`
		Message   string `json:"error"`
		Undecided bool   `json:"undecided"`
	} `json:"errors"`
	Checked []string `json:"checked"`
}

func (c *cluster) validate(i int, body map[string]any) verdict {
	c.t.Helper()
	var v verdict
	c.ok(i, http.MethodPost, "/api/cluster/schema/validate", body, &v)
	return v
}

// create creates a schema on node i.
func (c *cluster) create(i int, tenant, name, typ, schema string) {
	c.t.Helper()
	c.ok(i, http.MethodPost, "/api/cluster/schema/create",
		map[string]any{"tenant": tenant, "schema_name": name, "schema_type": typ, "schema": schema, "desc": ""}, nil)
}

func (c *cluster) bind(i int, tenant, schema, resource string) {
	c.t.Helper()
	c.ok(i, http.MethodPost, "/api/cluster/schema-bind/create",
		map[string]any{"tenant": tenant, "schema_name": schema, "resource_name": resource}, nil)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}
