package kv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/core/store"
)

func ev(t store.EventType, key string, rev int64) store.Event {
	return store.Event{Type: t, KV: store.KV{Key: v3Prefix + key, ModRevision: rev}}
}

func ids(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			out = append(out, id)
		}
	}
	return out
}

// A revision with several events numbers them R:1, R:2, …, R; a stream
// resumed after R:k skips exactly those k.
func TestSSEEventIDs(t *testing.T) {
	resp := []store.Event{
		ev(store.EventPut, "/a", 5),
		ev(store.EventDelete, "/d/1", 6), ev(store.EventDelete, "/d/2", 6), ev(store.EventDelete, "/d/3", 6),
		ev(store.EventExpire, "/t", 7),
	}
	write := func(wp watchParams, evs []store.Event) string {
		rec := httptest.NewRecorder()
		s := &sseWriter{w: rec, rc: http.NewResponseController(rec), wp: wp}
		if !s.events(evs) {
			t.Fatal("events failed")
		}
		return rec.Body.String()
	}
	body := write(watchParams{prefix: true, from: 5}, resp)
	if got := strings.Join(ids(body), " "); got != "5 6:1 6:2 6 7" {
		t.Fatalf("ids %q\n%s", got, body)
	}
	if !strings.Contains(body, `data: {"type":"EXPIRE","key":"/t",`) {
		t.Fatalf("no EXPIRE event for /t in\n%s", body)
	}
	// Resume after 6:1 (Last-Event-ID), with the events from 6 on.
	if got := strings.Join(ids(write(watchParams{prefix: true, from: 6, skip: 1}, resp[1:])), " "); got != "6:2 6 7" {
		t.Fatalf("resumed ids %q", got)
	}
	if got := strings.Join(ids(write(watchParams{prefix: true, from: 6, skip: 2}, resp[1:])), " "); got != "6 7" {
		t.Fatalf("resumed ids %q", got)
	}
	// An exact-key watch counts only its key's events.
	if got := strings.Join(ids(write(watchParams{key: "/d/2", from: 5}, resp)), " "); got != "6" {
		t.Fatalf("exact-key ids %q", got)
	}
}

func TestParseWatch(t *testing.T) {
	cases := []struct {
		query, lastID string
		want          watchParams
		bad           bool
	}{
		{query: "key=/a", want: watchParams{key: "/a"}},
		{query: "key=/a&prefix=true&start_revision=9", want: watchParams{key: "/a", prefix: true, from: 9}},
		{query: "prefix=true", want: watchParams{prefix: true}},
		{query: "key=/a&start_revision=9", lastID: "12", want: watchParams{key: "/a", from: 13}},
		{query: "key=/a", lastID: "12:2", want: watchParams{key: "/a", from: 12, skip: 2}},
		{query: "", bad: true},
		{query: "key=/a&prefix=maybe", bad: true},
		{query: "key=/a&start_revision=0", bad: true},
		{query: "key=/a&start_revision=x", bad: true},
		{query: "key=/a", lastID: "garbage", bad: true},
		{query: "key=" + strings.Repeat("k", MaxKeyBytes+1), bad: true},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/api/kv/v3/watch?"+c.query, nil)
		if c.lastID != "" {
			r.Header.Set("Last-Event-ID", c.lastID)
		}
		got, err := parseWatch(r)
		if c.bad {
			if err == nil {
				t.Errorf("%q (Last-Event-ID %q) accepted", c.query, c.lastID)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q (Last-Event-ID %q) = %+v, %v; want %+v", c.query, c.lastID, got, err, c.want)
		}
	}
}
