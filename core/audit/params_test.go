package audit

import (
	"net/url"
	"strings"
	"testing"
)

func TestIsSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "NewPassword": true, "X-Auth-Token": true, "client_secret": true,
		"apiKey": true, "KEY": true, "session_id": true, "Authorization": true,
		"username": false, "value": false, "name": false, "roles": false,
	} {
		if IsSecret(name) != want {
			t.Errorf("IsSecret(%q) = %v", name, !want)
		}
	}
}

func TestBuildParams(t *testing.T) {
	cases := []struct {
		name, ctype, body, want string
		query                   url.Values
	}{
		{name: "nothing", want: ""},
		{name: "query only", query: url.Values{"page": {"2"}, "token": {"t"}, "id": {"a", "b"}},
			want: `{"query":{"id":["a","b"],"page":"2","token":"***"}}`},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: "username=u&password=p",
			want: `{"body":{"password":"***","username":"u"}}`},
		{name: "json array", ctype: "application/json", body: `[{"secret":"s","n":1}]`,
			want: `{"body":[{"n":1,"secret":"***"}]}`},
		{name: "malformed json", ctype: "application/json", body: `{"password":"p"`,
			want: `{"body":"(15 bytes, application/json, malformed, not recorded)"}`},
		{name: "plain text", ctype: "text/plain", body: "password=p",
			want: `{"body":"(10 bytes, text/plain, not recorded)"}`},
		{name: "multipart", ctype: "multipart/form-data; boundary=x", body: "--x--",
			want: `{"body":"(5 bytes, multipart/form-data, not recorded)"}`},
		{name: "userinfo", ctype: "application/json", body: `{"url":"https://u:p@h/x?y=1","plain":"https://h/x@y"}`,
			want: `{"body":{"plain":"https://h/x@y","url":"https://u:***@h/x?y=1"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := body{data: []byte(c.body), size: int64(len(c.body)), contentType: c.ctype}
			if got := buildParams(c.query, b); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	long := url.Values{"q": {strings.Repeat("a", maxParamsBytes)}}
	if got := buildParams(long, body{}); !strings.Contains(got, "bytes of parameters, not recorded") {
		t.Errorf("long query: %.80s", got)
	}
}

func TestRedactUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@h/x?y=1":                   "https://u:***@h/x?y=1",
		"//u:p@h:5432/db":                       "//u:***@h:5432/db",
		"a=mysql://u:p@h1/d b=mysql://v:q@h2/d": "a=mysql://u:***@h1/d b=mysql://v:***@h2/d",
		"redis://:p@h:6379 then http://h/x@y":   "redis://:***@h:6379 then http://h/x@y",
		"postgres://u:p@ss@h/db":                "postgres://u:***@h/db",
		"https://h/x@y":                         "https://h/x@y",
		"https://u@h/x":                         "https://u@h/x",
		"no url at all: a@b":                    "no url at all: a@b",
		"//":                                    "//",
		"tcp://u:p@h\nnext line //w:z@g?x#f":    "tcp://u:***@h\nnext line //w:***@g?x#f",
	} {
		if got := redactUserinfo(in); got != want {
			t.Errorf("redactUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoginUsername(t *testing.T) {
	for _, c := range []struct{ ctype, body, want string }{
		{"application/json", `{"username":"a","password":"p"}`, "a"},
		{"application/x-www-form-urlencoded", `username=b&password=p`, "b"},
		{"application/x-www-form-urlencoded", `{"username":"c"}`, "c"},
		{"", ``, ""},
	} {
		if got := loginUsername(body{data: []byte(c.body), size: int64(len(c.body)), contentType: c.ctype}); got != c.want {
			t.Errorf("loginUsername(%s) = %q, want %q", c.body, got, c.want)
		}
	}
	for _, p := range []string{"/api/auth/login", "/api/v2/login/", "/api/v2/login", "/api/auth/change-password"} {
		if !isLogin(p) {
			t.Errorf("isLogin(%s) = false", p)
		}
	}
	if isLogin("/api/auth/logout") || isLogin("/api/kv/v3/put") {
		t.Error("isLogin matched a non-login path")
	}
}
