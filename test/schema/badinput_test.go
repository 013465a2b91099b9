package schema

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestBadInput: every mutating route refuses malformed JSON, missing
// fields, wrong types, unknown fields, oversized bodies, rule-breaking
// values and unknown names with a RobustMQ 4xx, and leaves what is stored
// as it was.
func TestBadInput(t *testing.T) {
	c := start(t, 1)
	c.create(1, "default", "temp", "json", objSchema)
	c.bind(1, "default", "temp", "sensor/+")
	before := c.schemas(1, "")
	beforeBind := c.bindings(1, "")

	long := func(n int) string { return strings.Repeat("x", n) }
	big := `{"tenant":"default","schema_name":"x","schema_type":"json","schema":"` + long(5<<20) + `"}`
	create := "/api/cluster/schema/create"
	del := "/api/cluster/schema/delete"
	bind := "/api/cluster/schema-bind/create"
	unbind := "/api/cluster/schema-bind/delete"
	validate := "/api/cluster/schema/validate"
	ok := map[string]any{"tenant": "default", "schema_name": "new", "schema_type": "json", "schema": `{"type":"object"}`}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range ok {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		// Bodies that are not the request.
		{"malformed", create, `{"tenant":`, 400, "JSON parsing failed: malformed JSON"},
		{"not an object", create, `[1]`, 400, "JSON parsing failed: request body must be a JSON object"},
		{"empty body", create, ``, 400, "JSON parsing failed: request body is empty"},
		{"trailing data", create, `{"tenant":"a"} {}`, 400, "JSON parsing failed: request body must hold a single JSON value"},
		{"unknown field", create, with("color", "red"), 400, `JSON parsing failed: unknown field "color"`},
		{"wrong type", create, with("schema", 5), 400, `JSON parsing failed: field "schema" must be a string`},
		{"oversized", create, big, 413, "too large"},
		// Missing fields and RobustMQ's rules.
		{"no tenant", create, with("tenant", nil), 400, `JSON parsing failed: missing field "tenant"`},
		{"no schema_name", create, with("schema_name", nil), 400, `missing field "schema_name"`},
		{"no schema_type", create, with("schema_type", nil), 400, `missing field "schema_type"`},
		{"no schema", create, with("schema", nil), 400, `missing field "schema"`},
		{"empty tenant", create, with("tenant", ""), 400, "Parameter validation failed: tenant: Tenant length must be between 1-128"},
		{"long tenant", create, with("tenant", long(129)), 400, "Tenant length must be between 1-128"},
		{"long name", create, with("schema_name", long(129)), 400, "Schema name length must be between 1-128"},
		{"long type", create, with("schema_type", long(51)), 400, "Schema type length must be between 1-50"},
		{"empty schema", create, with("schema", ""), 400, "Schema length must be between 1-8192"},
		{"long schema", create, with("schema", long(8193)), 400, "Schema length must be between 1-8192"},
		{"long desc", create, with("desc", long(501)), 400, "Description length cannot exceed 500"},
		{"unknown type", create, with("schema_type", "xml"), 400, `unknown schema type "xml"`},
		{"message on json", create, with("message", "a.B"), 400, `schema_type "json" takes none`},
		{"does not compile", create, with("schema", `{"type":"objekt"}`), 400, "the json validator does not accept this schema"},
		{"not json", create, with("schema", `{type`), 400, "schema is not JSON"},
		{"duplicate", create, with("schema_name", "temp"), 409, `schema "temp" already exists in tenant "default"`},
		// Delete.
		{"delete malformed", del, `{`, 400, "JSON parsing failed"},
		{"delete missing", del, map[string]any{"tenant": "default"}, 400, `missing field "schema_name"`},
		{"delete wrong type", del, map[string]any{"tenant": 1, "schema_name": "temp"}, 400, `field "tenant" must be a string`},
		{"delete unknown", del, map[string]any{"tenant": "default", "schema_name": "nope"}, 404, `schema "nope" not found`},
		{"delete bound", del, map[string]any{"tenant": "default", "schema_name": "temp"}, 409, "is bound to"},
		{"delete oversized", del, big, 413, "too large"},
		// Bindings.
		{"bind malformed", bind, `{"tenant"`, 400, "JSON parsing failed"},
		{"bind missing", bind, map[string]any{"tenant": "default", "schema_name": "temp"}, 400, `missing field "resource_name"`},
		{"bind wrong type", bind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": []int{1}}, 400, `field "resource_name" must be a string`},
		{"bind long resource", bind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": long(257)}, 400, "Resource name length must be between 1-256"},
		{"bind bad filter", bind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "a/#/b"}, 400, "'#' must be the whole last level"},
		{"bind bad plus", bind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "a/b+"}, 400, "'+' must fill a whole level"},
		{"bind unknown schema", bind, map[string]any{"tenant": "default", "schema_name": "nope", "resource_name": "a"}, 404, `schema "nope" not found`},
		{"bind unknown tenant", bind, map[string]any{"tenant": "nobody", "schema_name": "temp", "resource_name": "a"}, 404, `not found in tenant "nobody"`},
		{"bind twice", bind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "sensor/+"}, 409, "already bound"},
		{"bind oversized", bind, big, 413, "too large"},
		{"unbind unknown", unbind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "x"}, 404, `is not bound to "x"`},
		{"unbind unknown schema", unbind, map[string]any{"tenant": "default", "schema_name": "nope", "resource_name": "x"}, 404, `schema "nope" not found`},
		{"unbind malformed", unbind, `[`, 400, "JSON parsing failed"},
		{"unbind not an object", unbind, `["temp"]`, 400, "JSON parsing failed: request body must be a JSON object"},
		{"unbind empty body", unbind, ``, 400, "JSON parsing failed: request body is empty"},
		{"unbind missing", unbind, map[string]any{"tenant": "default", "schema_name": "temp"}, 400, `missing field "resource_name"`},
		{"unbind wrong type", unbind, map[string]any{"tenant": "default", "schema_name": true, "resource_name": "sensor/+"}, 400, `field "schema_name" must be a string`},
		{"unbind unknown field", unbind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "sensor/+", "all": true}, 400, `unknown field "all"`},
		{"unbind unknown tenant", unbind, map[string]any{"tenant": "nobody", "schema_name": "temp", "resource_name": "sensor/+"}, 404, `not found in tenant "nobody"`},
		{"unbind oversized", unbind, big, 413, "too large"},
		{"bind unknown field", bind, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "b", "force": true}, 400, `unknown field "force"`},
		{"bind empty body", bind, ``, 400, "JSON parsing failed: request body is empty"},
		{"delete unknown field", del, map[string]any{"tenant": "default", "schema_name": "temp", "force": true}, 400, `unknown field "force"`},
		{"delete empty body", del, ``, 400, "JSON parsing failed: request body is empty"},
		{"delete unknown tenant", del, map[string]any{"tenant": "nobody", "schema_name": "temp"}, 404, `not found in tenant "nobody"`},
		// Validate.
		{"validate both names", validate, map[string]any{"tenant": "default", "schema_name": "temp", "topic_name": "a", "payload": "{}"}, 400, "exactly one of schema_name and topic_name"},
		{"validate no name", validate, map[string]any{"tenant": "default", "payload": "{}"}, 400, "exactly one of schema_name and topic_name"},
		{"validate both payloads", validate, map[string]any{"tenant": "default", "schema_name": "temp", "payload": "{}", "payload_base64": "e30="}, 400, "exactly one of payload and payload_base64"},
		{"validate no payload", validate, map[string]any{"tenant": "default", "schema_name": "temp"}, 400, "exactly one of payload and payload_base64"},
		{"validate bad base64", validate, map[string]any{"tenant": "default", "schema_name": "temp", "payload_base64": "!!"}, 400, "not standard base64"},
		{"validate filter", validate, map[string]any{"tenant": "default", "topic_name": "a/+", "payload": "{}"}, 400, "a topic name has no wildcards"},
		{"validate wrong type", validate, map[string]any{"tenant": "default", "schema_name": "temp", "payload": 5}, 400, `field "payload" must be a string`},
		{"validate unknown schema", validate, map[string]any{"tenant": "default", "schema_name": "nope", "payload": "{}"}, 404, `schema "nope" not found`},
		{"validate oversized", validate, big, 413, "too large"},
		{"validate malformed", validate, `{"tenant":"default",`, 400, "JSON parsing failed: malformed JSON"},
		{"validate missing tenant", validate, map[string]any{"schema_name": "temp", "payload": "{}"}, 400, `missing field "tenant"`},
		{"validate unknown field", validate, map[string]any{"tenant": "default", "schema_name": "temp", "payload": "{}", "strict": true}, 400, `unknown field "strict"`},
	}
	for _, tc := range cases {
		var body any = tc.body
		if s, isStr := tc.body.(string); isStr {
			body = []byte(s)
		}
		r := c.do(1, http.MethodPost, tc.path, body)
		t.Run(tc.name, func(t *testing.T) {
			c := *c
			c.t = t
			c.fail(r, tc.status, tc.want)
		})
	}
	// Query strings of the lists.
	for _, q := range []string{"page=0", "limit=x", "sort_field=color", "sort_by=sideways", "filter_field=schema"} {
		r := c.do(1, http.MethodGet, "/api/cluster/schema/list?"+q, nil)
		c.fail(r, http.StatusBadRequest, "Parameter validation failed")
	}
	c.fail(c.do(1, http.MethodGet, "/api/cluster/schema-bind/list?resource_name=a", nil), http.StatusBadRequest, "tenant: required")

	if after := c.schemas(1, ""); !reflect.DeepEqual(after, before) {
		t.Fatalf("schemas changed by refused requests:\n%+v\nwas\n%+v", after, before)
	}
	if after := c.bindings(1, ""); !reflect.DeepEqual(after, beforeBind) {
		t.Fatalf("bindings changed by refused requests:\n%+v\nwas\n%+v", after, beforeBind)
	}
}

// TestPermissions: a viewer lists and validates but cannot change
// anything; without a session every route is a 401.
func TestPermissions(t *testing.T) {
	c := start(t, 1)
	c.create(1, "default", "temp", "json", objSchema)
	r := c.do(1, http.MethodPost, "/api/auth/users", map[string]any{"name": "vera", "password": "vera-password", "roles": []string{"viewer"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create viewer: %s", r)
	}
	viewer := c.login("vera", "vera-password")
	if r := c.call(1, http.MethodGet, "/api/cluster/schema/list", viewer, nil); r.status != 200 {
		t.Fatalf("viewer list: %s", r)
	}
	if r := c.call(1, http.MethodGet, "/api/cluster/schema-bind/list", viewer, nil); r.status != 200 {
		t.Fatalf("viewer bind list: %s", r)
	}
	if r := c.call(1, http.MethodPost, "/api/cluster/schema/validate", viewer,
		map[string]any{"tenant": "default", "schema_name": "temp", "payload": `{"temp":1}`}); r.status != 200 {
		t.Fatalf("viewer validate: %s", r)
	}
	for _, path := range []string{"/api/cluster/schema/create", "/api/cluster/schema/delete",
		"/api/cluster/schema-bind/create", "/api/cluster/schema-bind/delete"} {
		r := c.call(1, http.MethodPost, path, viewer, map[string]any{"tenant": "default", "schema_name": "temp", "resource_name": "a"})
		if r.status != http.StatusForbidden || !bytes.Contains(r.body, []byte(`"code":100`)) {
			t.Fatalf("viewer POST %s: %s, want 403 in RobustMQ's envelope", path, r)
		}
		if r := c.call(1, http.MethodPost, path, "", map[string]any{}); r.status != http.StatusUnauthorized {
			t.Fatalf("anonymous POST %s: %s", path, r)
		}
	}
	if p := c.schemas(1, ""); p.TotalCount != 1 {
		t.Fatalf("refused changes changed the schemas: %+v", p)
	}
}
