package kv

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

func TestFormatSize(t *testing.T) {
	for size, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KB", 1572864: "1.50 MB", 3 << 30: "3.00 GB"} {
		if got := formatSize(size); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", size, got, want)
		}
	}
}

func TestTTLLeft(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	for expireAt, want := range map[int64]int64{0: 0, 1_000_001: 1, 1_001_000: 1, 1_001_001: 2, 1_030_000: 30, 999_000: 1} {
		if got := ttlLeft(expireAt, now); got != want {
			t.Errorf("ttlLeft(%d) = %d, want %d", expireAt, got, want)
		}
	}
}

func TestCheckPut(t *testing.T) {
	neg := int64(-1)
	cases := []struct {
		req  PutRequest
		code string
	}{
		{PutRequest{Key: "a"}, ""},
		{PutRequest{Key: ""}, apierr.CodeInvalid},
		{PutRequest{Key: strings.Repeat("k", MaxKeyBytes)}, ""},
		{PutRequest{Key: strings.Repeat("k", MaxKeyBytes+1)}, codeKeyTooLarge},
		{PutRequest{Key: "a", Value: strings.Repeat("v", MaxValueBytes)}, ""},
		{PutRequest{Key: "a", Value: strings.Repeat("v", MaxValueBytes+1)}, codeValueTooLarge},
		{PutRequest{Key: "a", TTL: -1}, apierr.CodeInvalid},
		{PutRequest{Key: "a", TTL: MaxTTL + 1}, apierr.CodeInvalid},
		{PutRequest{Key: "a", PrevVersion: &neg}, apierr.CodeInvalid},
	}
	for _, c := range cases {
		err := checkPut(&c.req)
		if c.code == "" {
			if err != nil {
				t.Errorf("checkPut(key %d bytes, value %d bytes, ttl %d): %v", len(c.req.Key), len(c.req.Value), c.req.TTL, err)
			}
			continue
		}
		if ae := toAPIError(err); err == nil || ae.Code != c.code {
			t.Errorf("checkPut(key %d bytes, value %d bytes, ttl %d) = %v, want code %s", len(c.req.Key), len(c.req.Value), c.req.TTL, err, c.code)
		}
	}
	if ae := toAPIError(checkValue(strings.Repeat("v", MaxValueBytes+1))); ae.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("value too large: status %d, want 413", ae.Status)
	}
}

func TestToAPIError(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{&httpx.BadRequestError{Msg: "unknown field"}, 400, apierr.CodeInvalid},
		{httpx.ErrTooLarge, 413, codeValueTooLarge},
		{raft.ErrNoLeader, 503, apierr.CodeUnavailable},
		{raft.ErrTimeout, 503, apierr.CodeUnavailable},
		{store.ErrCompacted, 410, apierr.CodeCompacted},
		{store.ErrFutureRevision, 400, apierr.CodeFutureRevision},
		{store.ErrNotFound, 404, codeNotFound},
		{store.ErrKeyTooLarge, 400, codeKeyTooLarge},
		{store.ErrValueTooLarge, 413, codeValueTooLarge},
		{store.ErrNoSpace, 507, apierr.CodeNoSpace},
		{store.ErrAlarmCorrupt, 503, apierr.CodeDataCorrupt},
		{errors.New("disk on fire"), 500, apierr.CodeInternal},
	}
	for _, c := range cases {
		if ae := toAPIError(c.err); ae.Status != c.status || ae.Code != c.code {
			t.Errorf("toAPIError(%v) = %d %s, want %d %s", c.err, ae.Status, ae.Code, c.status, c.code)
		}
	}
	// KV's alarm messages say how to clear the alarm.
	for err, prefix := range map[error]string{
		store.ErrNoSpace:      "database space exceeded: writes are refused until space is freed",
		store.ErrAlarmCorrupt: "a member's data is corrupt: writes are refused until the CORRUPT alarm is disarmed",
	} {
		if m := toAPIError(err).Message; !strings.HasPrefix(m, prefix) {
			t.Errorf("toAPIError(%v) message %q, want %q...", err, m, prefix)
		}
	}
}

func TestQueryParams(t *testing.T) {
	q := url.Values{"revision": {"12"}, "serializable": {"true"}, "bad": {"x"}, "zero": {"0"}}
	if n, err := queryRevision(q, "revision"); n != 12 || err != nil {
		t.Errorf("revision = %d, %v", n, err)
	}
	for _, name := range []string{"bad", "zero"} {
		if _, err := queryRevision(q, name); toAPIError(err).Code != apierr.CodeInvalid {
			t.Errorf("revision %q: %v, want invalid_request", q.Get(name), err)
		}
	}
	if b, err := queryBool(q, "serializable"); !b || err != nil {
		t.Errorf("serializable = %v, %v", b, err)
	}
	if _, err := queryBool(q, "bad"); err == nil {
		t.Error("bool \"x\" accepted")
	}
	for id, want := range map[string]error{"": nil, "default": nil, "other": errors.New("404")} {
		r := httptest.NewRequest(http.MethodGet, "/api/kv/v3/get?tab_id="+id, nil)
		if err := checkTab(r); (err == nil) != (want == nil) {
			t.Errorf("tab_id %q: %v", id, err)
		} else if err != nil && toAPIError(err).Code != codeTabNotFound {
			t.Errorf("tab_id %q: %v, want KV_TAB_NOT_FOUND", id, err)
		}
	}
}

func TestParseEventID(t *testing.T) {
	for id, want := range map[string][2]int64{"7": {7, 0}, "7:2": {7, 2}} {
		rev, k, err := parseEventID(id)
		if err != nil || rev != want[0] || int64(k) != want[1] {
			t.Errorf("parseEventID(%q) = %d, %d, %v", id, rev, k, err)
		}
	}
	for _, id := range []string{"x", "0", "-3", "7:", "7:0", "7:x", "7:1:2"} {
		if _, _, err := parseEventID(id); err == nil {
			t.Errorf("parseEventID(%q) accepted", id)
		}
	}
}

func TestV2Paths(t *testing.T) {
	for key, want := range map[string]string{"a": "/a", "/a//b/": "/a/b", "/a/../b": "/b", "/": "/", "..": "/"} {
		if got, err := cleanPath(key); got != want || err != nil {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	if got := ancestors("/a/b/c"); !slices.Equal(got, []string{"/a", "/a/b"}) {
		t.Errorf("ancestors = %v", got)
	}
	if got := ancestors("/a"); len(got) != 0 {
		t.Errorf("ancestors(/a) = %v", got)
	}
}
