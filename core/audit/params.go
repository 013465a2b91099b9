package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"
)

// Limits on what an entry keeps of a request.
const (
	// MaxBodyBytes is the largest body recorded field by field; a larger
	// one is summarised by its size.
	MaxBodyBytes = 4 << 10
	// maxParamsBytes caps the whole params string (a long query string
	// is summarised like a large body).
	maxParamsBytes = 8 << 10
	maxTargetBytes = 1 << 10
	// maxDepth bounds recursion into nested JSON.
	maxDepth = 32
)

// Redacted replaces a secret value.
const Redacted = "***"

// secretWords mark a field as secret when its name contains one of them,
// in any case: "password", "old_password", "X-Auth-Token", "apiKey",
// "client_secret", "session", "Authorization".
var secretWords = []string{"password", "token", "secret", "key", "session", "authorization"}

// IsSecret reports whether a field called name holds a secret.
func IsSecret(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// body is what the middleware saw of a request body.
type body struct {
	data        []byte // the first bytes, at most MaxBodyBytes+1
	size        int64  // the whole body's size, as far as it is known
	contentType string
}

func (b body) tooLarge() bool { return b.size > MaxBodyBytes || len(b.data) > MaxBodyBytes }

// buildParams renders the query and body of a request as the entry's
// params: a JSON object with secrets masked, or "" when there are none.
func buildParams(query url.Values, b body) string {
	p := map[string]any{}
	if len(query) > 0 {
		p["query"] = redactValues(query)
	}
	if v, ok := bodyParams(b); ok {
		p["body"] = v
	}
	if len(p) == 0 {
		return ""
	}
	out, err := json.Marshal(p)
	if err != nil {
		return ""
	}
	if len(out) > maxParamsBytes {
		out, _ = json.Marshal(map[string]string{"summary": fmt.Sprintf("%d bytes of parameters, not recorded", len(out))})
	}
	return string(out)
}

// bodyParams decodes a JSON or form body and masks its secrets. Anything
// else, and anything too large or malformed, is summarised by size and
// type: raw bytes are never recorded, since no field names can be checked.
func bodyParams(b body) (any, bool) {
	if b.size == 0 && len(b.data) == 0 {
		return nil, false
	}
	size := max(b.size, int64(len(b.data)))
	mediaType, _, _ := mime.ParseMediaType(b.contentType)
	summary := func(what string) (any, bool) {
		if mediaType != "" {
			what = ", " + mediaType + what
		}
		return fmt.Sprintf("(%d bytes%s, not recorded)", size, what), true
	}
	if b.tooLarge() {
		return summary("")
	}
	data := bytes.TrimSpace(b.data)
	switch {
	case looksJSON(data):
		// Handlers decode JSON whatever the content type says (curl -d
		// sends JSON as a form), so it is read, and masked, as JSON.
		v, err := decodeJSON(data)
		if err != nil {
			return summary(", malformed")
		}
		return redact(v, 0), true
	case mediaType == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return summary(", malformed")
		}
		return redactValues(vals), true
	}
	if mediaType == "application/json" || strings.HasSuffix(mediaType, "+json") {
		return summary(", malformed")
	}
	return summary("")
}

// looksJSON reports whether data is a JSON object or array.
func looksJSON(data []byte) bool {
	return len(data) > 0 && (data[0] == '{' || data[0] == '[') && json.Valid(data)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// redactValues turns query or form values into a map, single values as
// strings, masking secret names.
func redactValues(vals url.Values) map[string]any {
	out := make(map[string]any, len(vals))
	for k, vs := range vals {
		switch {
		case IsSecret(k):
			out[k] = Redacted
		case len(vs) == 1:
			out[k] = redactString(vs[0], 0)
		default:
			list := make([]any, len(vs))
			for i, s := range vs {
				list[i] = redactString(s, 0)
			}
			out[k] = list
		}
	}
	return out
}

// redact masks secret fields at any depth.
func redact(v any, depth int) any {
	if depth > maxDepth {
		return "(nested too deeply, not recorded)"
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if IsSecret(k) {
				t[k] = Redacted
			} else {
				t[k] = redact(x, depth+1)
			}
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = redact(x, depth+1)
		}
		return t
	case string:
		return redactString(t, depth)
	}
	return v
}

// redactString looks inside strings that carry structure of their own: a
// JSON document in a string field (RobustMQ's connector "config") has its
// secrets masked too, and a URL loses the password in its user info
// (mysql://user:pw@host).
func redactString(s string, depth int) any {
	trimmed := strings.TrimSpace(s)
	if len(trimmed) > 1 && (trimmed[0] == '{' || trimmed[0] == '[') {
		if v, err := decodeJSON([]byte(trimmed)); err == nil {
			out, err := json.Marshal(redact(v, depth+1))
			if err == nil {
				return string(out)
			}
		}
	}
	return redactUserinfo(s)
}

// redactUserinfo masks the password of every user:password@host authority
// in s, with or without a scheme (mysql://u:pw@h, //u:pw@h, two DSNs in one
// string), leaving the rest of s as it was written. An authority ends at
// '/', '?', '#' or white space; a password holding '@' is masked up to the
// last '@'. Masking too much is harmless here, missing a password is not.
func redactUserinfo(s string) string {
	var sb strings.Builder
	done, from := 0, 0
	for {
		i := strings.Index(s[from:], "//")
		if i < 0 {
			break
		}
		start := from + i + 2
		end := start
		for end < len(s) && !strings.ContainsRune("/?#", rune(s[end])) && !isSpace(s[end]) {
			end++
		}
		authority := s[start:end]
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			if colon := strings.Index(authority[:at], ":"); colon >= 0 {
				sb.WriteString(s[done : start+colon+1])
				sb.WriteString(Redacted)
				done = start + at
			}
		}
		from = end
	}
	if done == 0 {
		return s
	}
	sb.WriteString(s[done:])
	return sb.String()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// loginUsername is the username a login or password-change attempt names,
// from its JSON or form body: who is trying, before there is a session.
func loginUsername(b body) string {
	if b.tooLarge() || len(b.data) == 0 {
		return ""
	}
	data := bytes.TrimSpace(b.data)
	if looksJSON(data) {
		var v struct {
			Username string `json:"username"`
		}
		if json.Unmarshal(data, &v) != nil {
			return ""
		}
		return v.Username
	}
	vals, err := url.ParseQuery(string(data))
	if err != nil {
		return ""
	}
	return vals.Get("username")
}
