package audit

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuditParams: the audit middleware decodes the body (and query) of
// every request to record its parameters. For any query, content type and
// body, buildParams returns "" or one JSON object within the size cap, and
// nothing secret survives in it: every field whose name marks a secret
// holds "***" at any depth, inside JSON documents carried in strings too,
// and no scheme://user:password@host keeps its password. loginUsername never
// panics.
func FuzzAuditParams(f *testing.F) {
	ctypes := []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "", "application/merge-patch+json",
		"multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=utf-8", "application/json; charset=\xff"}
	for _, seed := range []struct {
		query string
		ctype uint8
		body  string
	}{
		{"", 0, `{"username":"u","password":"p"}`},
		{"token=t&page=2&id=a&id=b", 3, ""},
		{"", 1, "username=u&password=p&new_password=q"},
		{"", 0, `[{"secret":"s","n":1},{"apiKey":["k"]}]`},
		{"", 0, `{"config":"{\"password\":\"inner\",\"nested\":\"[{\\\"token\\\":\\\"t\\\"}]\"}"}`},
		{"", 0, `{"url":"mysql://user:pw@db:3306/x","plain":"https://h/x@y"}`},
		{"dsn=postgres%3A%2F%2Fu%3Apw%40h%2Fdb", 3, ""},
		{"", 0, `{"PASSWORD":"x","Pass\u0077ord":"y","password":"a","password":"b"}`},
		{"", 0, `{"a":` + strings.Repeat(`{"a":`, 40) + `{"password":"deep"}` + strings.Repeat("}", 41)},
		{"", 0, `{"s":"` + strings.Repeat(`[`, 40) + `"}`},
		{"", 0, `{"n":1e999,"m":-0,"big":123456789012345678901234567890}`},
		{"", 0, `{"password":"p"`},
		{"", 0, `{"a":"b"} {"password":"p"}`},
		{"", 2, "password=p"},
		{"", 5, "--x--"},
		{"", 4, `{"key":"k"}`},
		{"", 7, `{"key":"k"}`},
		{"", 1, "%zz=1&password=p"},
		{"", 1, `{"password":"p"}`},
		{"", 0, "\ufeff{\"password\":\"p\"}"},
		{"", 0, " \u00a0{\"password\":\"p\"}"},
		{"", 0, `{"v":"x://a:b@c@d/e"}`},
		{"", 0, `{"v":" {\"token\":\"t\"} "}`},
		{"", 0, `{"\u00e9\u4e16":"\ud800","x":"\u0000"}`},
		{strings.Repeat("q=a&", 3000), 3, ""},
		{"", 0, `{"v":"` + strings.Repeat("x", MaxBodyBytes) + `"}`},
	} {
		f.Add(seed.query, seed.ctype, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, query string, ctype uint8, data []byte) {
		q, _ := url.ParseQuery(query)
		b := body{data: data, size: int64(len(data)), contentType: ctypes[int(ctype)%len(ctypes)]}
		if len(b.data) > MaxBodyBytes+1 {
			b.data = b.data[:MaxBodyBytes+1] // what the middleware keeps
		}
		_ = loginUsername(b)
		out := buildParams(q, b)
		if out == "" {
			if len(q) > 0 || len(data) > 0 {
				t.Fatalf("no params for query %q, body %q", query, data)
			}
			return
		}
		if len(out) > maxParamsBytes {
			t.Fatalf("params of %d bytes, cap %d", len(out), maxParamsBytes)
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.UseNumber()
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("params are not a JSON object: %v: %s", err, out)
		}
		checkRedacted(t, v, out, 0)
	})
}

// checkRedacted fails if a secret survives anywhere in v.
func checkRedacted(t *testing.T, v any, out string, depth int) {
	t.Helper()
	if depth > 200 {
		t.Fatalf("params nested %d deep: %.200s", depth, out)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if IsSecret(k) {
				if c != Redacted {
					t.Fatalf("secret field %q kept %v: %.300s", k, c, out)
				}
				continue
			}
			checkRedacted(t, c, out, depth+1)
		}
	case []any:
		for _, c := range x {
			checkRedacted(t, c, out, depth+1)
		}
	case string:
		s := strings.TrimSpace(x)
		if len(s) > 1 && (s[0] == '{' || s[0] == '[') {
			dec := json.NewDecoder(bytes.NewReader([]byte(s)))
			dec.UseNumber()
			var inner any
			if dec.Decode(&inner) == nil {
				checkRedacted(t, inner, out, depth+1)
				return
			}
		}
		// scheme://user:password@host, as the redaction promises.
		if u, err := url.Parse(x); err == nil && u.Scheme != "" && u.User != nil {
			if pw, _ := u.User.Password(); pw != "" && pw != Redacted {
				t.Fatalf("URL %q keeps its password: %.300s", x, out)
			}
		}
	}
}

// FuzzRedactUserinfo: masking is idempotent, and no authority it leaves
// behind still carries a password other than the mask.
func FuzzRedactUserinfo(f *testing.F) {
	for _, s := range []string{"https://u:p@h/x", "//u:p@h", "a //u:p@h b mysql://v:q@@g/d", "x://a:b@c@d/e", "//:@", "////u:p@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := redactUserinfo(s)
		if again := redactUserinfo(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
		for rest := out; ; {
			i := strings.Index(rest, "//")
			if i < 0 {
				break
			}
			rest = rest[i+2:]
			end := strings.IndexFunc(rest, func(r rune) bool { return strings.ContainsRune("/?# \t\r\n", r) })
			if end < 0 {
				end = len(rest)
			}
			authority := rest[:end]
			if at := strings.LastIndex(authority, "@"); at >= 0 {
				if colon := strings.Index(authority[:at], ":"); colon >= 0 && authority[colon+1:at] != Redacted {
					t.Fatalf("password %q kept in %q (from %q)", authority[colon+1:at], out, s)
				}
			}
			rest = rest[end:]
		}
	})
}
