package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/internal/storetest"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// Fuzz targets for the session and user routes, each on one real
// one-node store shared by all of its iterations. Common properties: no
// panic, never a 5xx (a client's mistake is a 4xx; the store is healthy),
// a 2xx only for a request that validates, and what a 2xx says it did is
// what the store then holds.

// fuzzService starts an auth service with admin's password known, a
// lockout that ends quickly (so a run that locked admin out soon reaches
// the success paths again) and a quiet logger.
func fuzzService(f *testing.F) *Service {
	st := storetest.Open(f)
	ns, err := st.Namespace(Namespace)
	if err != nil {
		f.Fatal(err)
	}
	s := New(Config{
		Enabled: true, AdminPassword: testAdminPassword, SessionTTL: time.Hour,
		LockoutThreshold: 5, LockoutDuration: 2 * time.Second, DataDir: f.TempDir(),
	}, ns, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Stop)
	testutil.Eventually(f, 10*time.Second, "admin created", func() bool {
		_, err := s.GetUser(context.Background(), "admin")
		return err == nil
	})
	return s
}

func fuzzCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantUsername is the fuzz tests' own rule for a user name.
func wantUsername(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@", rune(c)) {
			return false
		}
	}
	return true
}

func wantRoles(roles []Role) bool {
	for _, r := range roles {
		if r != RoleAdmin && r != RoleOperator && r != RoleViewer {
			return false
		}
	}
	return true
}

func no5xx(t *testing.T, w *httptest.ResponseRecorder, what any) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d for %q: %s", w.Code, what, w.Body)
	}
}

// jsonError is the "error" of an etcdmonitor or core error body.
func jsonError(t *testing.T, w *httptest.ResponseRecorder) (msg, code string) {
	t.Helper()
	var e struct{ Error, Code string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("%d without an error message: %s", w.Code, w.Body)
	}
	return e.Error, e.Code
}

// FuzzLogin: POST /api/auth/login with any body. A session only for
// admin's right password in a valid body, and then the token and the
// cookie are one live admin session; a wrong user and a wrong password
// are the same 401; no cookie without a session.
func FuzzLogin(f *testing.F) {
	s := fuzzService(f)
	h := router(s)
	for _, seed := range []string{
		`{"username":"admin","password":"` + testAdminPassword + `"}`,
		`{"username":"admin","password":"wrong-password"}`,
		`{"username":"nobody","password":"` + testAdminPassword + `"}`,
		`{"username":"admin"}`, `{"password":"x"}`, `{"username":"","password":""}`,
		`{"username":"admin","password":"` + testAdminPassword + `","extra":1}`,
		`{"username":"admin","password":"` + testAdminPassword + `"} {}`,
		`{"username":"admin","password":"` + testAdminPassword + `"}]`,
		`{"username":["admin"],"password":"x"}`, `{"username":1,"password":2}`, `{"username":null,"password":null}`,
		`{"username":"adm\u0000in","password":"x"}`, `{"username":"\u00e9\u4e16\ud83d\ude00","password":"\ud800"}`,
		`{"username":"` + strings.Repeat("a", 65) + `","password":"x"}`,
		`{"username":{"a":[{"b":{}}]},"password":"x"}`,
		``, ` `, `null`, `[]`, `"admin"`, `{`, "\xff", `{"username":"admin","password":"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(h, http.MethodPost, "/api/auth/login", string(body), false)
		no5xx(t, w, body)
		var req loginRequest
		decoded := testutil.StrictJSON(body, &req)
		right := decoded && req.Username == "admin" && req.Password == testAdminPassword
		cookies := w.Result().Cookies()
		switch w.Code {
		case http.StatusOK:
			if !right {
				t.Fatalf("200 for %q", body)
			}
			var ans loginResponse
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || !ans.Authenticated || ans.Username != "admin" {
				t.Fatalf("login answer %s: %v", w.Body, err)
			}
			p, err := s.Authenticate(fuzzCtx(t), ans.SessionToken)
			if err != nil || p.Username != "admin" {
				t.Fatalf("the token of a 200 does not authenticate admin: %v", err)
			}
			if len(cookies) != 1 || cookies[0].Value != ans.SessionToken {
				t.Fatalf("cookies %v, want the session token", cookies)
			}
			return
		case http.StatusBadRequest:
			if decoded && req.Username != "" && req.Password != "" {
				t.Fatalf("400 for a well-formed body %q: %s", body, w.Body)
			}
		case http.StatusUnauthorized:
			msg, code := jsonError(t, w)
			if code != "account_locked" && msg != msgInvalidCredentials {
				t.Fatalf("401 %q for %q: a wrong user and a wrong password must read the same", msg, body)
			}
			if right && code != "account_locked" {
				t.Fatalf("401 for the right password: %s", w.Body)
			}
		case http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if len(cookies) != 0 {
			t.Fatalf("%d sets cookies %v", w.Code, cookies)
		}
	})
}

// FuzzChangePassword: POST /api/auth/change-password with any body. A
// change only with admin's current password and a new one of 8 or more
// characters that differs; after a 200 the stored hash verifies the new
// password. Admin's password is put back after each change.
func FuzzChangePassword(f *testing.F) {
	s := fuzzService(f)
	h := router(s)
	for _, seed := range []string{
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":"another-password"}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":"short"}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":"` + testAdminPassword + `"}`,
		`{"username":"admin","old_password":"wrong-password","new_password":"another-password"}`,
		`{"username":"nobody","old_password":"` + testAdminPassword + `","new_password":"another-password"}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":"\u00e9\u00e9\u00e9\u00e9"}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":"` + strings.Repeat("p", 5000) + `"}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `"}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":8}`,
		`{"username":"admin","old_password":"` + testAdminPassword + `","new_password":"another-password","x":0}`,
		``, `{}`, `[]`, `null`, `{"username":"admin"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(h, http.MethodPost, "/api/auth/change-password", string(body), false)
		no5xx(t, w, body)
		var req changePasswordRequest
		decoded := testutil.StrictJSON(body, &req)
		switch w.Code {
		case http.StatusOK:
			if !decoded || req.Username != "admin" || req.OldPassword != testAdminPassword ||
				len(req.NewPassword) < 8 || req.NewPassword == req.OldPassword {
				t.Fatalf("200 for %q", body)
			}
			u, err := s.GetUser(fuzzCtx(t), "admin")
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := VerifyPassword(u.PasswordHash, req.NewPassword); err != nil || !ok {
				t.Fatalf("after a 200 the new password does not verify: %v", err)
			}
			if err := s.SetPassword(fuzzCtx(t), "admin", testAdminPassword); err != nil {
				t.Fatal(err)
			}
		case http.StatusBadRequest:
			msg, _ := jsonError(t, w)
			if decoded && req.Username != "" && req.OldPassword != "" && req.NewPassword != "" &&
				len(req.NewPassword) >= 8 && req.NewPassword != req.OldPassword {
				t.Fatalf("400 %q for a well-formed body %q", msg, body)
			}
		case http.StatusUnauthorized:
			jsonError(t, w)
		case http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}

// FuzzCockroach: CockroachDB's POST /api/v2/login/ with any form body,
// content type and query, and GET /api/v2/sessions/ with any query. A
// login session only for admin's right password; a sessions page only for
// a valid limit, start and exclude_closed_sessions.
func FuzzCockroach(f *testing.F) {
	s := fuzzService(f)
	h := router(s)
	admin, err := s.Login(context.Background(), "admin", testAdminPassword, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	form := url.Values{"username": {"admin"}, "password": {testAdminPassword}}.Encode()
	for _, seed := range []struct {
		route, ctype uint8
		query, body  string
	}{
		{0, 0, "", form},
		{0, 0, "", "username=admin&password=wrong"},
		{0, 0, "", "username=&password=x"},
		{0, 0, "", "password=" + testAdminPassword},
		{0, 0, "username=admin&password=" + testAdminPassword, ""},
		{0, 1, "", `{"username":"admin","password":"` + testAdminPassword + `"}`},
		{0, 2, "", "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nadmin\r\n--b--\r\n"},
		{0, 3, "", form},
		{0, 0, "", "username=%zz&password=x"},
		{0, 0, "", "username=admin;password=x"},
		{0, 0, "", "username=a%00b&password=x&username=admin"},
		{0, 0, "", strings.Repeat("a=b&", 2000)},
		{1, 0, "", ""},
		{1, 0, "limit=1&start=0&exclude_closed_sessions=true&username=admin", ""},
		{1, 0, "limit=-1", ""},
		{1, 0, "start=99999999999999999999", ""},
		{1, 0, "exclude_closed_sessions=maybe", ""},
		{1, 0, "limit=1&limit=x", ""},
		{1, 0, "username=nobody", ""},
		{1, 0, "%zz=1&limit=%", ""},
	} {
		f.Add(seed.route, seed.ctype, seed.query, []byte(seed.body))
	}
	ctypes := []string{"application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=b", ""}
	f.Fuzz(func(t *testing.T, route, ctype uint8, query string, body []byte) {
		path := "/api/v2/login/"
		method := http.MethodPost
		if route%2 == 1 {
			path, method = "/api/v2/sessions/", http.MethodGet
		}
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.URL.RawQuery = query
		if ct := ctypes[int(ctype)%len(ctypes)]; ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if route%2 == 1 {
			r.Header.Set(cockroachSessionHeader, admin.Token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		no5xx(t, w, body)
		if route%2 == 1 {
			q, _ := url.ParseQuery(query)
			if w.Code == http.StatusOK {
				for _, k := range []string{"limit", "start"} {
					if v := q.Get(k); v != "" && !allDigits(v) {
						t.Fatalf("200 with %s=%q", k, v)
					}
				}
				var ans v2SessionsResponse
				if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || ans.Sessions == nil || ans.Errors == nil {
					t.Fatalf("sessions answer %s: %v", w.Body, err)
				}
			} else if w.Code != http.StatusBadRequest {
				t.Fatalf("sessions: status %d for %q: %s", w.Code, query, w.Body)
			}
			return
		}
		switch w.Code {
		case http.StatusOK:
			// The form says admin and the right password: the body's
			// values come first, then the query's (ParseForm's order).
			vals, _ := url.ParseQuery(query)
			if r.Header.Get("Content-Type") == ctypes[0] {
				if bv, err := url.ParseQuery(string(body)); err == nil {
					for k, v := range vals {
						bv[k] = append(bv[k], v...)
					}
					vals = bv
				}
			}
			if vals.Get("username") != "admin" || vals.Get("password") != testAdminPassword {
				t.Fatalf("login 200 for body %q, query %q", body, query)
			}
			var ans struct{ Session string }
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
				t.Fatal(err)
			}
			if p, err := s.Authenticate(fuzzCtx(t), ans.Session); err != nil || p.Username != "admin" {
				t.Fatalf("the session of a 200 does not authenticate admin: %v", err)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			if !strings.HasSuffix(w.Body.String(), "\n") || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("%d not in CockroachDB's plain-text error format: %q", w.Code, w.Body)
			}
		default:
			t.Fatalf("login: status %d for body %q, query %q: %s", w.Code, body, query, w.Body)
		}
	})
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FuzzSessionToken: any token in any of the places a client may put one.
// It authenticates exactly when it is admin's token (give or take the
// spaces a header value may carry), and a bad one is never a 5xx.
func FuzzSessionToken(f *testing.F) {
	s := fuzzService(f)
	h := router(s)
	res, err := s.Login(context.Background(), "admin", testAdminPassword, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	real := res.Token
	// The token is made in each fuzzing process anew, so the input is an
	// edit of it: replace del bytes at pos with ins.
	for _, seed := range []struct {
		where, pos, del uint8
		ins             string
	}{
		{0, 0, 0, ""}, {1, 0, 0, ""}, {2, 0, 0, ""}, {3, 0, 0, ""},
		{0, 0, 0, " "}, {0, 64, 0, "\t"}, {0, 63, 1, "A"}, {0, 0, 1, "-"}, {0, 10, 1, "_"},
		{0, 0, 64, ""}, {0, 0, 64, "cookie"}, {1, 0, 64, "cookie"}, {0, 32, 0, "\n"}, {0, 0, 1, "="},
		{0, 64, 0, "=="}, {0, 63, 1, "\u00e9"}, {3, 5, 2, "%2"}, {0, 0, 64, strings.Repeat("A", 64)},
	} {
		f.Add(seed.where, seed.pos, seed.del, seed.ins)
	}
	f.Fuzz(func(t *testing.T, where, pos, del uint8, ins string) {
		p := min(int(pos), len(real))
		end := min(p+int(del), len(real))
		tok := real[:p] + ins + real[end:]
		r := httptest.NewRequest(http.MethodGet, "/api/auth/status", nil)
		exact := false // the carrier passes the value on untrimmed
		switch where % 4 {
		case 0:
			r.Header.Set("Authorization", "Bearer "+tok)
		case 1:
			r.Header.Set(cockroachSessionHeader, tok)
		case 2:
			r.Header.Set("X-Consul-Token", tok)
		case 3:
			r.URL.RawQuery = url.Values{"token": {tok}}.Encode()
			exact = true
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status: %d for token %q: %s", w.Code, tok, w.Body)
		}
		var st statusResponse
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		want := tok == real || (!exact && strings.TrimSpace(tok) == real)
		if st.Authenticated != want {
			t.Fatalf("token %q (carrier %d): authenticated %v, want %v", tok, where%4, st.Authenticated, want)
		}
		if want && st.Username != "admin" {
			t.Fatalf("authenticated as %q", st.Username)
		}
	})
}

// FuzzUserAdmin: the admin routes under /api/auth/users with any name and
// body, as admin. Create, set-password and set-roles succeed only for a
// valid name, a password of 8 or more characters and known roles, and the
// store then holds exactly that; a delete removes the user; at least one
// admin always remains. Admin is restored when a run took its password or
// session away.
func FuzzUserAdmin(f *testing.F) {
	s := fuzzService(f)
	h := router(s)
	token := ""
	relogin := func(tb testing.TB) {
		res, err := s.Login(context.Background(), "admin", testAdminPassword, "fuzz")
		if err != nil {
			tb.Fatal(err)
		}
		token = res.Token
	}
	relogin(f)
	for _, seed := range []struct {
		op   uint8
		name string
		body string
	}{
		{0, "", `{"name":"alice","password":"alice-password","roles":["operator"]}`},
		{0, "", `{"name":"bob","password":"bob-password"}`},
		{0, "", `{"name":"carol","password":"carol-password","roles":["admin"],"tenant":"t","superuser":true}`},
		{0, "", `{"name":"alice","password":"alice-password"}`},
		{0, "", `{"name":"dave","password":"short"}`},
		{0, "", `{"name":"bad name","password":"long-enough"}`},
		{0, "", `{"name":"` + strings.Repeat("n", 65) + `","password":"long-enough"}`},
		{0, "", `{"name":"eve","password":"long-enough","roles":["root"]}`},
		{0, "", `{"name":"eve","password":"long-enough","roles":[]}`},
		{0, "", `{"name":"eve","password":"long-enough","roles":"admin"}`},
		{0, "", `{"name":"eve","password":"long-enough","x":1}`},
		{0, "", `{"name":"\u00e9","password":"long-enough"}`},
		{0, "", ``}, {0, "", `[]`}, {0, "", `{"name":"eve"`},
		{1, "alice", `{"password":"new-alice-password"}`},
		{1, "alice", `{"password":"short"}`},
		{1, "nobody", `{"password":"long-enough"}`},
		{1, "admin", `{"password":"admin-new-password"}`},
		{1, "a/b", `{"password":"long-enough"}`},
		{2, "alice", `{"roles":["viewer","operator"]}`},
		{2, "alice", `{"roles":[]}`},
		{2, "alice", `{"roles":["superuser"]}`},
		{2, "admin", `{"roles":["viewer"]}`},
		{2, "carol", `{"roles":["viewer"]}`},
		{2, "alice", `{"roles":null}`},
		{3, "alice", ``}, {3, "admin", ``}, {3, "carol", ``}, {3, "nobody", ``}, {3, "", ``}, {3, "..", ``},
		{4, "alice", ``}, {4, "nobody", ``}, {4, "admin", ``},
		{5, "", ``},
	} {
		f.Add(seed.op, seed.name, []byte(seed.body))
	}
	routes := []struct{ method, suffix string }{
		{http.MethodPost, ""}, {http.MethodPut, "/password"}, {http.MethodPut, "/roles"},
		{http.MethodDelete, ""}, {http.MethodPost, "/unlock"}, {http.MethodGet, ""},
	}
	f.Fuzz(func(t *testing.T, op uint8, name string, body []byte) {
		ctx := fuzzCtx(t)
		rt := routes[int(op)%len(routes)]
		path := "/api/auth/users"
		if rt.suffix != "" || rt.method == http.MethodDelete {
			path += "/" + url.PathEscape(name) + rt.suffix
		}
		// PathEscape's output always parses; the router sees the name
		// as a client that escapes it properly sends it.
		r := httptest.NewRequest(rt.method, path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		no5xx(t, w, body)
		if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
			t.Fatalf("admin refused: %d %s", w.Code, w.Body)
		}
		var view userView
		if w.Code/100 == 2 && rt.method != http.MethodDelete && (rt.suffix != "" || rt.method == http.MethodPost) {
			if err := json.Unmarshal(w.Body.Bytes(), &view); err != nil || view.Name == "" {
				t.Fatalf("user answer %s: %v", w.Body, err)
			}
		}
		switch {
		case w.Code/100 != 2:
			if w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound && w.Code != http.StatusConflict &&
				w.Code != http.StatusMethodNotAllowed && w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %s %s %q: %s", w.Code, rt.method, path, body, w.Body)
			}
		case rt.method == http.MethodPost && rt.suffix == "": // create
			var req createUserRequest
			if w.Code != http.StatusCreated || !testutil.StrictJSON(body, &req) || !wantUsername(req.Name) ||
				len(req.Password) < 8 || !wantRoles(req.Roles) {
				t.Fatalf("create: %d for %q", w.Code, body)
			}
			wantR := req.Roles
			if len(wantR) == 0 {
				wantR = []Role{RoleViewer}
			}
			u := mustUser(t, s, req.Name)
			if !slices.Equal(u.Roles, wantR) || u.Tenant != req.Tenant || u.Superuser != req.Superuser || view.Name != req.Name {
				t.Fatalf("created %+v (answered %+v) for %q", u.Public(), view, body)
			}
			mustVerify(t, u, req.Password)
		case rt.suffix == "/password":
			var req passwordRequest
			if !testutil.StrictJSON(body, &req) || len(req.Password) < 8 {
				t.Fatalf("set password: %d for %q", w.Code, body)
			}
			mustVerify(t, mustUser(t, s, view.Name), req.Password)
		case rt.suffix == "/roles":
			var req rolesRequest
			if !testutil.StrictJSON(body, &req) || len(req.Roles) == 0 || !wantRoles(req.Roles) {
				t.Fatalf("set roles: %d for %q", w.Code, body)
			}
			if u := mustUser(t, s, view.Name); !slices.Equal(u.Roles, req.Roles) {
				t.Fatalf("roles %v after setting %v", u.Roles, req.Roles)
			}
		case rt.method == http.MethodDelete:
			var ans map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetUser(ctx, ans["deleted"]); err == nil {
				t.Fatalf("user %q still there after a delete", ans["deleted"])
			}
		}
		// At least one admin, always.
		users, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(users, func(u User) bool { return isAdmin(&u) }) {
			t.Fatalf("no admin left after %s %s %q", rt.method, path, body)
		}
		// Put admin back for the next run if this one took it away.
		if _, err := s.Authenticate(ctx, token); err == nil {
			return
		}
		if _, err := s.GetUser(ctx, "admin"); err != nil {
			if err := s.CreateUser(ctx, User{Name: "admin", Roles: []Role{RoleAdmin}, Superuser: true}, testAdminPassword); err != nil {
				t.Fatal(err)
			}
		} else if err := s.SetPassword(ctx, "admin", testAdminPassword); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoles(ctx, "admin", []Role{RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		relogin(t)
	})
}

func mustUser(t *testing.T, s *Service, name string) *User {
	t.Helper()
	u, err := s.GetUser(fuzzCtx(t), name)
	if err != nil {
		t.Fatalf("user %q after a 2xx: %v", name, err)
	}
	return u
}

func mustVerify(t *testing.T, u *User, password string) {
	t.Helper()
	if ok, err := VerifyPassword(u.PasswordHash, password); err != nil || !ok {
		t.Fatalf("user %s: the password of a 2xx does not verify (%v)", u.Name, err)
	}
}
