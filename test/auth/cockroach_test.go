package authtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

type v2Session struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	ClientAddress string     `json:"client_address"`
	Start         time.Time  `json:"start"`
	LastActive    time.Time  `json:"last_active"`
	Status        int        `json:"status"`
	End           *time.Time `json:"end"`
}

type v2Sessions struct {
	Sessions []v2Session      `json:"sessions"`
	Errors   []map[string]any `json:"errors"`
	Next     *string          `json:"next"`
}

func sessionsPage(t *testing.T, c *cluster, i int, token, query string) (v2Sessions, response) {
	t.Helper()
	r := do(t, req{url: c.url(i, "/api/v2/sessions/?"+query), token: token, place: places["X-Cockroach-API-Session"]})
	var out v2Sessions
	if r.status == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			t.Fatalf("sessions answer %s: %v", r.body, err)
		}
		var raw map[string]json.RawMessage
		json.Unmarshal([]byte(r.body), &raw)
		if string(raw["errors"]) != "[]" || string(raw["sessions"]) == "null" {
			t.Fatalf("sessions answer %s: want sessions as an array and errors []", r.body)
		}
	}
	return out, r
}

// testCockroachSessions: CockroachDB's login/logout shapes, and sessions/
// with its filters and paging; an admin sees every session, anyone else
// only their own.
func testCockroachSessions(t *testing.T, c *cluster, admin string) {
	c.createUser(admin, "pam", "pam-password", "viewer")
	// Login answers exactly {"session": ...}, with or without the slash.
	var pamTokens []string
	for n := 0; n < 5; n++ {
		path := "/api/v2/login/"
		if n%2 == 1 {
			path = "/api/v2/login"
		}
		r := postForm(t, c.url(1+n%3, path), url.Values{"username": {"pam"}, "password": {"pam-password"}})
		if r.status != http.StatusOK {
			t.Fatalf("login %s: %s", path, r)
		}
		m := r.json(t)
		sameKeys(t, m, "session")
		pamTokens = append(pamTokens, m["session"].(string))
	}
	if r := do(t, req{method: http.MethodPost, url: c.url(3, "/api/v2/logout"), token: pamTokens[0], place: places["X-Cockroach-API-Session"]}); r.status != http.StatusOK {
		t.Fatalf("logout: %s", r)
	}

	all, r := sessionsPage(t, c, 2, admin, "username=pam")
	if r.status != http.StatusOK || len(all.Sessions) != 5 || all.Next != nil {
		t.Fatalf("pam's sessions as admin: %s", r)
	}
	closed := 0
	for i, s := range all.Sessions {
		if s.Username != "pam" || s.ID == "" || s.ClientAddress == "" || s.Start.IsZero() || s.LastActive.IsZero() {
			t.Fatalf("session %d: %+v", i, s)
		}
		if i > 0 && s.Start.Before(all.Sessions[i-1].Start) {
			t.Fatalf("sessions are not oldest first: %s", r.body)
		}
		switch s.Status {
		case 1:
			closed++
			if s.End == nil {
				t.Fatalf("closed session without end: %+v", s)
			}
		case 0:
			if s.End != nil {
				t.Fatalf("active session with an end: %+v", s)
			}
		default:
			t.Fatalf("status %d", s.Status)
		}
	}
	if closed != 1 {
		t.Fatalf("%d closed sessions, want 1: %s", closed, r.body)
	}
	if open, r := sessionsPage(t, c, 3, admin, "username=pam&exclude_closed_sessions=true"); len(open.Sessions) != 4 {
		t.Fatalf("open sessions: %s", r)
	}

	// Paging: limit 2, following next until it is absent, sees every
	// session once, in order.
	var seen []string
	start := ""
	for pages := 0; ; pages++ {
		q := "username=pam&limit=2"
		if start != "" {
			q += "&start=" + start
		}
		page, r := sessionsPage(t, c, 1+pages%3, admin, q)
		if r.status != http.StatusOK || pages > 5 || len(page.Sessions) > 2 {
			t.Fatalf("page %d: %s", pages, r)
		}
		for _, s := range page.Sessions {
			seen = append(seen, s.ID)
		}
		if page.Next == nil {
			break
		}
		if *page.Next != strconv.Itoa(len(seen)) {
			t.Fatalf("next %q after %d sessions", *page.Next, len(seen))
		}
		start = *page.Next
	}
	if len(seen) != len(all.Sessions) {
		t.Fatalf("paging saw %d sessions, want %d", len(seen), len(all.Sessions))
	}
	for i := range seen {
		if seen[i] != all.Sessions[i].ID {
			t.Fatalf("paging order differs at %d", i)
		}
	}
	if past, r := sessionsPage(t, c, 1, admin, "username=pam&start=100"); len(past.Sessions) != 0 || past.Next != nil {
		t.Fatalf("start past the end: %s", r)
	}

	// The admin sees everyone; pam sees only her own, from any node.
	if everyone, r := sessionsPage(t, c, 1, admin, ""); len(everyone.Sessions) <= 5 {
		t.Fatalf("admin's listing: %s", r)
	}
	for i := 1; i <= 3; i++ {
		own, r := sessionsPage(t, c, i, pamTokens[1], "")
		if r.status != http.StatusOK || len(own.Sessions) != 5 {
			t.Fatalf("pam's own listing on node %d: %s", i, r)
		}
		for _, s := range own.Sessions {
			if s.Username != "pam" {
				t.Fatalf("pam sees %s's session", s.Username)
			}
		}
		_, r = sessionsPage(t, c, i, pamTokens[1], "username=admin")
		wantTextError(t, r, http.StatusForbidden, true)
		_, r = sessionsPage(t, c, i, "", "")
		wantTextError(t, r, http.StatusUnauthorized, true)
		_, r = sessionsPage(t, c, i, pamTokens[0], "")
		wantTextError(t, r, http.StatusUnauthorized, true)
	}
	if r := do(t, req{url: c.url(2, "/api/v2/sessions"), token: admin}); r.status != http.StatusOK {
		t.Fatalf("sessions without the slash: %s", r)
	}
	for _, q := range []string{"limit=x", "limit=-1", "limit=1.5", "start=x", "start=-2", "exclude_closed_sessions=maybe"} {
		_, r := sessionsPage(t, c, 1, admin, q)
		wantTextError(t, r, http.StatusBadRequest, true)
	}
}
