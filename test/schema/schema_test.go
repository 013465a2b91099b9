package schema

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

const (
	objSchema  = `{"type":"object","required":["temp"],"properties":{"temp":{"type":"number"}}}`
	unitSchema = `{"type":"object","required":["unit"],"properties":{"unit":{"enum":["C","F"]}}}`
)

// TestLifecycle: on three nodes, schemas created on one are listed,
// validated and bound on the others; a topic must pass every schema bound
// to it directly or through a filter; a bound schema cannot be deleted.
func TestLifecycle(t *testing.T) {
	c := start(t, 3)
	c.create(1, "default", "temp", "json", objSchema)
	c.ok(2, http.MethodPost, "/api/cluster/schema/create", map[string]any{
		"tenant": "default", "schema_name": "unit", "schema_type": "json", "schema": unitSchema, "desc": "units"}, nil)
	c.create(3, "other", "temp", "json", `{"type":"string"}`)

	// Listed on every node, field by field.
	want := schemaRow{Tenant: "default", Name: "temp", Type: "json", Desc: "", Schema: objSchema}
	for i := 1; i <= 3; i++ {
		p := c.schemas(i, "tenant=default&sort_field=name&sort_by=desc")
		if p.TotalCount != 2 || len(p.Data) != 2 || p.Data[1] != want || p.Data[0].Name != "unit" || p.Data[0].Desc != "units" {
			t.Fatalf("node %d lists %+v", i, p)
		}
	}
	if p := c.schemas(1, "name=emp&sort_field=tenant&sort_by=asc"); p.TotalCount != 2 ||
		p.Data[0].Tenant != "default" || p.Data[1].Tenant != "other" {
		t.Fatalf("name substring filter: %+v", p)
	}
	if p := c.schemas(1, "limit=1&page=3&sort_field=name"); p.TotalCount != 3 || len(p.Data) != 1 || p.Data[0].Name != "temp" {
		t.Fatalf("paging: %+v", p)
	}

	// Validate against one schema, created on another node.
	v := c.validate(3, map[string]any{"tenant": "default", "schema_name": "temp", "payload": `{"temp": 21.5}`})
	if !v.Valid || len(v.Errors) != 0 || !slices.Equal(v.Checked, []string{"temp"}) {
		t.Fatalf("valid payload: %+v", v)
	}
	v = c.validate(2, map[string]any{"tenant": "default", "schema_name": "temp", "payload": `{"temp": "warm"}`})
	if v.Valid || len(v.Errors) != 1 || v.Errors[0].Schema != "temp" || v.Errors[0].Undecided ||
		!strings.Contains(v.Errors[0].Message, "/temp") {
		t.Fatalf("invalid payload: %+v", v)
	}
	v = c.validate(1, map[string]any{"tenant": "default", "schema_name": "temp", "payload_base64": "eyJ0ZW1wIjogMX0="}) // {"temp": 1}
	if !v.Valid {
		t.Fatalf("base64 payload: %+v", v)
	}

	// Bindings: temp on a filter, unit on one topic.
	c.bind(1, "default", "temp", "sensor/+")
	c.bind(2, "default", "unit", "sensor/temp")
	c.bind(3, "default", "temp", "plant/#")
	both := c.validate(3, map[string]any{"tenant": "default", "topic_name": "sensor/temp", "payload": `{"temp": 20}`})
	if both.Valid || !slices.Equal(both.Checked, []string{"temp", "unit"}) || len(both.Errors) != 1 ||
		both.Errors[0].Schema != "unit" || both.Errors[0].Resource != "sensor/temp" {
		t.Fatalf("topic with two schemas, one failing: %+v", both)
	}
	if v := c.validate(1, map[string]any{"tenant": "default", "topic_name": "sensor/temp",
		"payload": `{"temp": 20, "unit": "C"}`}); !v.Valid || len(v.Checked) != 2 {
		t.Fatalf("topic with two schemas, both passing: %+v", v)
	}
	if v := c.validate(2, map[string]any{"tenant": "default", "topic_name": "sensor/hum",
		"payload": `{"unit": "C"}`}); v.Valid || !slices.Equal(v.Checked, []string{"temp"}) || v.Errors[0].Resource != "sensor/+" {
		t.Fatalf("topic under the filter only: %+v", v)
	}
	if v := c.validate(2, map[string]any{"tenant": "default", "topic_name": "plant/a/b/c",
		"payload": `{"temp": 1}`}); !v.Valid || !slices.Equal(v.Checked, []string{"temp"}) {
		t.Fatalf("multi-level filter: %+v", v)
	}
	if v := c.validate(1, map[string]any{"tenant": "default", "topic_name": "nothing/bound",
		"payload": "anything"}); !v.Valid || len(v.Checked) != 0 {
		t.Fatalf("unbound topic: %+v", v)
	}
	if v := c.validate(1, map[string]any{"tenant": "other", "topic_name": "sensor/temp",
		"payload": "anything"}); !v.Valid || len(v.Checked) != 0 {
		t.Fatalf("bindings belong to their tenant: %+v", v)
	}

	// RobustMQ's lookups, on a node that made none of the bindings.
	if p := c.bindings(3, "tenant=default&resource_name=sensor/temp"); p.TotalCount != 1 ||
		!reflect.DeepEqual(p.Data[0], bindRow{DataType: "resource", Data: []string{"temp", "unit"}, Tenant: "default", Name: "sensor/temp"}) {
		t.Fatalf("resource lookup: %+v", p)
	}
	if p := c.bindings(3, "tenant=default&schema_name=temp"); p.TotalCount != 1 ||
		!slices.Equal(p.Data[0].Data, []string{"plant/#", "sensor/+"}) || p.Data[0].DataType != "schema" {
		t.Fatalf("schema lookup: %+v", p)
	}
	if p := c.bindings(1, ""); p.TotalCount != 2 || p.Data[0].Name != "temp" || p.Data[1].Name != "unit" {
		t.Fatalf("all bindings: %+v", p)
	}

	// A bound schema cannot go; unbinding frees it.
	r := c.do(2, http.MethodPost, "/api/cluster/schema/delete", map[string]any{"tenant": "default", "schema_name": "temp"})
	c.fail(r, http.StatusConflict, `schema "temp" is bound to "plant/#", "sensor/+"`)
	for _, res := range []string{"sensor/+", "plant/#"} {
		c.ok(1, http.MethodPost, "/api/cluster/schema-bind/delete",
			map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": res}, nil)
	}
	c.ok(2, http.MethodPost, "/api/cluster/schema/delete", map[string]any{"tenant": "default", "schema_name": "temp"}, nil)
	for i := 1; i <= 3; i++ {
		if p := c.schemas(i, "tenant=default"); p.TotalCount != 1 || p.Data[0].Name != "unit" {
			t.Fatalf("node %d after delete: %+v", i, p)
		}
	}
	r = c.do(3, http.MethodPost, "/api/cluster/schema/validate", map[string]any{"tenant": "default", "schema_name": "temp", "payload": "{}"})
	c.fail(r, http.StatusNotFound, `schema "temp" not found in tenant "default"`)
}

// TestDroppedInValidatorAddsAType: a validator plugin dropped into
// plugins.dir is a schema type at once, on the node that has it.
func TestDroppedInValidatorAddsAType(t *testing.T) {
	c := start(t, 1)
	r := c.do(1, http.MethodPost, "/api/cluster/schema/create", map[string]any{
		"tenant": "default", "schema_name": "exact", "schema_type": "equals", "schema": "hello"})
	c.fail(r, http.StatusBadRequest, `unknown schema type "equals": no validator plugin of that name is loaded (loaded validators: `)
	copyFile(t, wasm["equals"], filepath.Join(c.dirs[0], "equals.wasm"))
	testnode.Eventually(t, 30*time.Second, "equals loaded", func() bool {
		return c.tc.Node(1).Node.Plugins().Get("equals") != nil
	})
	c.create(1, "default", "exact", "equals", "hello")
	if v := c.validate(1, map[string]any{"tenant": "default", "schema_name": "exact", "payload": "hello"}); !v.Valid {
		t.Fatalf("equal payload: %+v", v)
	}
	if v := c.validate(1, map[string]any{"tenant": "default", "schema_name": "exact", "payload": "bye"}); v.Valid ||
		v.Errors[0].Type != "equals" || !strings.Contains(v.Errors[0].Message, `"bye" is not "hello"`) {
		t.Fatalf("other payload: %+v", v)
	}
}

// TestHostileValidator: a validator that spins forever fails the
// validation with a clear error after its call timeout; the node keeps
// serving, other validators included.
func TestHostileValidator(t *testing.T) {
	c := start(t, 1, func(cfg *config.Config) {
		cfg.Plugins.Manifests = map[string]map[string]any{"loop": {"call_timeout": "500ms"}}
	})
	copyFile(t, wasm["loop"], filepath.Join(c.dirs[0], "loop.wasm"))
	testnode.Eventually(t, 30*time.Second, "loop loaded", func() bool {
		return c.tc.Node(1).Node.Plugins().Get("loop") != nil
	})
	c.create(1, "default", "spinner", "loop", "any")
	c.create(1, "default", "temp", "json", objSchema)
	c.bind(1, "default", "spinner", "t/#")
	c.bind(1, "default", "temp", "t/#")

	done := make(chan verdict)
	go func() {
		done <- c.validate(1, map[string]any{"tenant": "default", "topic_name": "t/x", "payload": "spin"})
	}()
	// While the loop spins, the node answers.
	if v := c.validate(1, map[string]any{"tenant": "default", "schema_name": "temp", "payload": `{"temp":1}`}); !v.Valid {
		t.Fatalf("json validation while a validator spins: %+v", v)
	}
	v := <-done
	if v.Valid || len(v.Errors) != 2 {
		t.Fatalf("spin: %+v", v)
	}
	for _, e := range v.Errors {
		if e.Schema == "spinner" && (!e.Undecided || !strings.Contains(e.Message, "timed out")) {
			t.Fatalf("spinner's error: %+v", e)
		}
		if e.Schema == "temp" && e.Undecided {
			t.Fatalf("temp's error: %+v", e)
		}
	}
	// A fresh instance serves the next call.
	if v := c.validate(1, map[string]any{"tenant": "default", "topic_name": "t/x", "payload": `{"temp":2}`}); !v.Valid {
		t.Fatalf("after the timeout: %+v", v)
	}
}

// TestUploadedValidatorAddsATypeEverywhere: a validator uploaded through
// POST /api/plugins on one node is a schema type on every node, without a
// restart: created on another node, validated on a third.
func TestUploadedValidatorAddsATypeEverywhere(t *testing.T) {
	c := start(t, 3)
	mod, err := os.ReadFile(wasm["equals"])
	if err != nil {
		t.Fatal(err)
	}
	c.ok(1, http.MethodPost, "/api/plugins", wasmBody(mod), nil)
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 60*time.Second, fmt.Sprintf("equals loaded on node %d", i), func() bool {
			return c.tc.Node(i).Node.Plugins().Get("equals") != nil
		})
	}
	c.create(2, "default", "exact", "equals", "hello")
	if v := c.validate(3, map[string]any{"tenant": "default", "schema_name": "exact", "payload": "hello"}); !v.Valid {
		t.Fatalf("equal payload on node 3: %+v", v)
	}
	if v := c.validate(1, map[string]any{"tenant": "default", "schema_name": "exact", "payload": "bye"}); v.Valid ||
		v.Errors[0].Type != "equals" {
		t.Fatalf("other payload on node 1: %+v", v)
	}
}
