package authtest

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// testUserAdmin: the admin API's happy paths and the answers it shows.
func testUserAdmin(t *testing.T, c *cluster, admin string) {
	r := postJSON(t, http.MethodPost, c.url(2, "/api/auth/users"), admin,
		map[string]any{"name": "uma", "password": "uma-password", "roles": []string{"operator"}, "tenant": "t1"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	m := r.json(t)
	sameKeys(t, m, "name", "roles", "tenant", "superuser", "must_change_password", "created_at", "updated_at")
	if m["name"] != "uma" || m["tenant"] != "t1" || m["superuser"] != false {
		t.Fatalf("created: %s", r.body)
	}
	if r := postJSON(t, http.MethodPost, c.url(3, "/api/auth/users"), admin,
		map[string]any{"name": "una", "password": "una-password"}); r.status != http.StatusCreated || !strings.Contains(r.body, `"roles":["viewer"]`) {
		t.Fatalf("roles default to viewer: %s", r)
	}
	list := get(t, c.url(3, "/api/auth/users"), admin)
	if list.status != http.StatusOK || strings.Contains(list.body, "password") && !strings.Contains(list.body, "must_change_password") {
		t.Fatalf("list: %s", list)
	}
	if strings.Contains(list.body, "argon2") || strings.Contains(list.body, "password_hash") {
		t.Fatalf("the list shows password hashes: %s", list.body)
	}
	users, _ := list.json(t)["users"].([]any)
	names := map[string]bool{}
	for _, u := range users {
		names[u.(map[string]any)["name"].(string)] = true
	}
	if !names["admin"] || !names["uma"] || !names["una"] {
		t.Fatalf("list: %s", list.body)
	}

	r = postJSON(t, http.MethodPut, c.url(1, "/api/auth/users/uma/roles"), admin, map[string]any{"roles": []string{"viewer", "operator"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `"roles":["viewer","operator"]`) {
		t.Fatalf("set roles: %s", r)
	}
	r = postJSON(t, http.MethodPut, c.url(1, "/api/auth/users/uma/password"), admin, map[string]any{"password": "uma-password-2"})
	if r.status != http.StatusOK {
		t.Fatalf("set password: %s", r)
	}
	c.login(3, "uma", "uma-password-2")
	wantJSONError(t, postJSON(t, http.MethodPost, c.url(3, "/api/auth/login"), "",
		map[string]string{"username": "uma", "password": "uma-password"}), http.StatusUnauthorized, "")
	r = do(t, req{method: http.MethodDelete, url: c.url(2, "/api/auth/users/uma"), token: admin})
	if r.status != http.StatusOK || strings.TrimSpace(r.body) != `{"deleted":"uma"}` {
		t.Fatalf("delete: %s", r)
	}
	wantJSONError(t, postJSON(t, http.MethodPost, c.url(1, "/api/auth/login"), "",
		map[string]string{"username": "uma", "password": "uma-password-2"}), http.StatusUnauthorized, "")
}

// badCase is one request that must be refused with a 4xx in its family's
// format (never a 500).
type badCase struct {
	name        string
	method      string
	path        string
	contentType string
	body        string
	bodyReader  func() io.Reader // overrides body (chunked: no length)
	token       string
	status      int
	family      string // "json" (core, etcdmonitor) or "cockroach"
}

// testBadInput sends every kind of bad input to each mutating endpoint.
func testBadInput(t *testing.T, c *cluster, admin string) {
	c.createUser(admin, "bert", "bert-password", "viewer")
	c.waitApplied()
	users := func(i int) string {
		r := get(t, c.url(i, "/api/auth/users"), admin)
		if r.status != http.StatusOK {
			t.Fatalf("list users on node %d: %s", i, r)
		}
		return r.body
	}
	before := users(1)
	// Over the limit and otherwise fine for every endpoint: the decoder
	// reads a chunked body as a stream and answers its first mistake.
	big := strings.Repeat(" ", smallBodyLimit) + `{}`
	bigForm := "username=" + strings.Repeat("x", smallBodyLimit) + "&password=x"
	chunked := func(s string) func() io.Reader {
		return func() io.Reader { return io.MultiReader(strings.NewReader(s)) }
	}
	const js = "application/json"
	const form = "application/x-www-form-urlencoded"

	// JSON-body endpoints share the generic cases.
	jsonEndpoints := []struct {
		method, path, token, valid, wrongType string
	}{
		{http.MethodPost, "/api/auth/login", "", `{"username":"bert","password":"bert-password"}`, `{"username":"bert","password":true}`},
		{http.MethodPost, "/api/auth/change-password", "", `{"username":"bert","old_password":"bert-password","new_password":"bert-password-2"}`,
			`{"username":["bert"],"old_password":"bert-password","new_password":"bert-password-2"}`},
		{http.MethodPost, "/api/auth/users", admin, `{"name":"newbie","password":"newbie-password","roles":["viewer"]}`,
			`{"name":"newbie","password":"newbie-password","roles":{"viewer":true}}`},
		{http.MethodPut, "/api/auth/users/bert/password", admin, `{"password":"bert-password"}`, `{"password":["bert-password"]}`},
		{http.MethodPut, "/api/auth/users/bert/roles", admin, `{"roles":["viewer"]}`, `{"roles":"viewer"}`},
	}
	var cases []badCase
	for _, e := range jsonEndpoints {
		generic := []struct{ name, body string }{
			{"empty body", ""},
			{"malformed", `{"a":`},
			{"not an object", `["x"]`},
			{"string", `"x"`},
			{"null", `null`},
			{"null and more", `null "x"`},
			{"trailing data", e.valid + `{}`},
			{"unknown field", strings.TrimSuffix(e.valid, "}") + `,"extra":1}`},
			{"wrong type", e.wrongType},
		}
		for _, g := range generic {
			cases = append(cases, badCase{name: e.path + " " + g.name, method: e.method, path: e.path, contentType: js, body: g.body, token: e.token, status: 400, family: "json"})
		}
		cases = append(cases,
			badCase{name: e.path + " oversized", method: e.method, path: e.path, contentType: js, body: big, token: e.token, status: 413, family: "json"},
			badCase{name: e.path + " oversized chunked", method: e.method, path: e.path, contentType: js, bodyReader: chunked(big), token: e.token, status: 413, family: "json"},
		)
	}
	cases = append(cases,
		// Login.
		badCase{name: "login without password", method: "POST", path: "/api/auth/login", contentType: js, body: `{"username":"bert"}`, status: 400, family: "json"},
		badCase{name: "login without username", method: "POST", path: "/api/auth/login", contentType: js, body: `{"password":"bert-password"}`, status: 400, family: "json"},
		badCase{name: "login with a number for a name", method: "POST", path: "/api/auth/login", contentType: js, body: `{"username":7,"password":"bert-password"}`, status: 400, family: "json"},
		badCase{name: "login with an absurd name", method: "POST", path: "/api/auth/login", contentType: js, body: `{"username":"` + strings.Repeat("n", 9000) + `","password":"bert-password"}`, status: 401, family: "json"},
		badCase{name: "login with an invalid name", method: "POST", path: "/api/auth/login", contentType: js, body: `{"username":"../../etc","password":"bert-password"}`, status: 401, family: "json"},
		// Change-password.
		badCase{name: "change-password without new", method: "POST", path: "/api/auth/change-password", contentType: js, body: `{"username":"bert","old_password":"bert-password"}`, status: 400, family: "json"},
		badCase{name: "change-password short", method: "POST", path: "/api/auth/change-password", contentType: js, body: `{"username":"bert","old_password":"bert-password","new_password":"short"}`, status: 400, family: "json"},
		badCase{name: "change-password same", method: "POST", path: "/api/auth/change-password", contentType: js, body: `{"username":"bert","old_password":"bert-password","new_password":"bert-password"}`, status: 400, family: "json"},
		badCase{name: "change-password unknown user", method: "POST", path: "/api/auth/change-password", contentType: js, body: `{"username":"nobody-here","old_password":"bert-password","new_password":"bert-password-2"}`, status: 401, family: "json"},
		// Logout.
		badCase{name: "logout without a token", method: "POST", path: "/api/auth/logout", status: 401, family: "json"},
		badCase{name: "logout with garbage", method: "POST", path: "/api/auth/logout", token: "garbage", status: 401, family: "json"},
		// Create user.
		badCase{name: "create without name", method: "POST", path: "/api/auth/users", contentType: js, body: `{"password":"newbie-password"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create without password", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"newbie"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create weak password", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"newbie","password":"short"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create bad name", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"new bie","password":"newbie-password"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create long name", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"` + strings.Repeat("n", 65) + `","password":"newbie-password"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create unknown role", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"newbie","password":"newbie-password","roles":["root"]}`, token: admin, status: 400, family: "json"},
		badCase{name: "create roles not a list", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"newbie","password":"newbie-password","roles":"admin"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create superuser not a bool", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"newbie","password":"newbie-password","superuser":"yes"}`, token: admin, status: 400, family: "json"},
		badCase{name: "create existing", method: "POST", path: "/api/auth/users", contentType: js, body: `{"name":"bert","password":"bert-password"}`, token: admin, status: 409, family: "json"},
		// Delete.
		badCase{name: "delete unknown", method: "DELETE", path: "/api/auth/users/nobody-here", token: admin, status: 404, family: "json"},
		badCase{name: "delete invalid name", method: "DELETE", path: "/api/auth/users/" + url.PathEscape("a b"), token: admin, status: 404, family: "json"},
		badCase{name: "delete the last admin", method: "DELETE", path: "/api/auth/users/admin", token: admin, status: 409, family: "json"},
		// Set password.
		badCase{name: "password of unknown user", method: "PUT", path: "/api/auth/users/nobody-here/password", contentType: js, body: `{"password":"newbie-password"}`, token: admin, status: 404, family: "json"},
		badCase{name: "password missing", method: "PUT", path: "/api/auth/users/bert/password", contentType: js, body: `{}`, token: admin, status: 400, family: "json"},
		badCase{name: "password weak", method: "PUT", path: "/api/auth/users/bert/password", contentType: js, body: `{"password":"short"}`, token: admin, status: 400, family: "json"},
		badCase{name: "password not a string", method: "PUT", path: "/api/auth/users/bert/password", contentType: js, body: `{"password":12345678}`, token: admin, status: 400, family: "json"},
		// Set roles.
		badCase{name: "roles of unknown user", method: "PUT", path: "/api/auth/users/nobody-here/roles", contentType: js, body: `{"roles":["viewer"]}`, token: admin, status: 404, family: "json"},
		badCase{name: "roles empty", method: "PUT", path: "/api/auth/users/bert/roles", contentType: js, body: `{"roles":[]}`, token: admin, status: 400, family: "json"},
		badCase{name: "roles missing", method: "PUT", path: "/api/auth/users/bert/roles", contentType: js, body: `{}`, token: admin, status: 400, family: "json"},
		badCase{name: "roles unknown", method: "PUT", path: "/api/auth/users/bert/roles", contentType: js, body: `{"roles":["viewer","god"]}`, token: admin, status: 400, family: "json"},
		badCase{name: "roles of numbers", method: "PUT", path: "/api/auth/users/bert/roles", contentType: js, body: `{"roles":[1]}`, token: admin, status: 400, family: "json"},
		badCase{name: "demote the last admin", method: "PUT", path: "/api/auth/users/admin/roles", contentType: js, body: `{"roles":["viewer"]}`, token: admin, status: 409, family: "json"},
		badCase{name: "password of an invalid name", method: "PUT", path: "/api/auth/users/" + url.PathEscape("a b") + "/password", contentType: js, body: `{"password":"newbie-password"}`, token: admin, status: 404, family: "json"},
		badCase{name: "roles of an invalid name", method: "PUT", path: "/api/auth/users/" + url.PathEscape("../admin") + "/roles", contentType: js, body: `{"roles":["viewer"]}`, token: admin, status: 404, family: "json"},
		// Unlock.
		badCase{name: "unlock unknown user", method: "POST", path: "/api/auth/users/nobody-here/unlock", token: admin, status: 404, family: "json"},
		badCase{name: "unlock invalid name", method: "POST", path: "/api/auth/users/" + url.PathEscape("a b") + "/unlock", token: admin, status: 404, family: "json"},
		// Unknown users at the login routes.
		badCase{name: "login unknown user", method: "POST", path: "/api/auth/login", contentType: js, body: `{"username":"nobody-here","password":"bert-password"}`, status: 401, family: "json"},
		badCase{name: "v2 login unknown user", method: "POST", path: "/api/v2/login/", contentType: form, body: "username=nobody-here&password=bert-password", status: 401, family: "cockroach"},
		// Wrong method on the user API.
		badCase{name: "patch users", method: "PATCH", path: "/api/auth/users/bert", token: admin, status: 405, family: "json"},
		// CockroachDB login and logout.
		badCase{name: "v2 login without username", method: "POST", path: "/api/v2/login/", contentType: form, body: "password=bert-password", status: 400, family: "cockroach"},
		badCase{name: "v2 login empty", method: "POST", path: "/api/v2/login/", contentType: form, status: 400, family: "cockroach"},
		badCase{name: "v2 login JSON body", method: "POST", path: "/api/v2/login/", contentType: js, body: `{"username":"bert","password":"bert-password"}`, status: 400, family: "cockroach"},
		badCase{name: "v2 login bad encoding", method: "POST", path: "/api/v2/login/", contentType: form, body: "username=%zz&password=x", status: 400, family: "cockroach"},
		badCase{name: "v2 login bad credentials", method: "POST", path: "/api/v2/login/", contentType: form, body: "username=bert&password=wrong-password", status: 401, family: "cockroach"},
		badCase{name: "v2 login oversized", method: "POST", path: "/api/v2/login/", contentType: form, body: bigForm, status: 413, family: "cockroach"},
		badCase{name: "v2 login oversized chunked", method: "POST", path: "/api/v2/login/", contentType: form, bodyReader: chunked(bigForm), status: 413, family: "cockroach"},
		badCase{name: "v2 login GET", method: "GET", path: "/api/v2/login/", status: 405, family: "cockroach"},
		badCase{name: "v2 logout without session", method: "POST", path: "/api/v2/logout/", status: 400, family: "cockroach"},
		badCase{name: "v2 logout unknown session", method: "POST", path: "/api/v2/logout/", token: "not-a-session", status: 400, family: "cockroach"},
	)

	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			var body io.Reader
			switch {
			case bc.bodyReader != nil:
				body = bc.bodyReader()
			case bc.body != "":
				body = bytes.NewReader([]byte(bc.body))
			}
			q := req{method: bc.method, url: c.url(2, bc.path), body: body, contentType: bc.contentType, token: bc.token}
			if bc.family == "cockroach" {
				q.place = places["X-Cockroach-API-Session"]
			}
			r := do(t, q)
			if r.status >= 500 {
				t.Fatalf("server error: %s", r)
			}
			switch bc.family {
			case "json":
				wantJSONError(t, r, bc.status, "")
			case "cockroach":
				wantTextError(t, r, bc.status, true)
			}
		})
	}
	// None of it changed bert, or any user, on any node.
	c.login(1, "bert", "bert-password")
	c.waitApplied()
	for i := 1; i <= 3; i++ {
		if after := users(i); after != before {
			t.Fatalf("users on node %d after refused requests:\n%s\nwere\n%s", i, after, before)
		}
	}
}
