package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// watchParams is a parsed watch request.
type watchParams struct {
	key    string
	prefix bool
	// from is the first revision to deliver; the first skip events of it
	// (those matching the watch) were delivered before a reconnect.
	from int64
	skip int
}

func parseWatch(r *http.Request) (watchParams, error) {
	q := r.URL.Query()
	var wp watchParams
	var err error
	wp.key = q.Get("key")
	if wp.prefix, err = queryBool(q, "prefix"); err != nil {
		return wp, err
	}
	if wp.prefix {
		if len(wp.key) > MaxKeyBytes {
			return wp, checkKey(wp.key)
		}
	} else if err := checkKey(wp.key); err != nil {
		return wp, err
	}
	if wp.from, err = queryRevision(q, "start_revision"); err != nil {
		return wp, err
	}
	// EventSource sends the last id it saw when it reconnects, with the
	// URL of the first connection: the id is newer than start_revision.
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		rev, k, err := parseEventID(id)
		if err != nil {
			return wp, err
		}
		if k == 0 {
			wp.from, wp.skip = rev+1, 0
		} else {
			wp.from, wp.skip = rev, k
		}
	}
	return wp, nil
}

// parseEventID reads an id this stream wrote: "R" (revision R fully
// delivered) or "R:k" (the first k events of revision R delivered).
func parseEventID(id string) (rev int64, k int, err error) {
	rs, ks, partial := strings.Cut(id, ":")
	rev, err = strconv.ParseInt(rs, 10, 64)
	if err == nil && rev < 1 {
		err = errors.New("revision below 1")
	}
	// "R" resumes at R+1, which must not overflow (an id this stream
	// never wrote: no store reaches that revision).
	if err == nil && !partial && rev == math.MaxInt64 {
		err = errors.New("revision out of range")
	}
	if err == nil && partial {
		k, err = strconv.Atoi(ks)
		if err == nil && k < 1 {
			err = errors.New("event count below 1")
		}
	}
	if err != nil {
		return 0, 0, apierr.BadRequest("Last-Event-ID must be an id this stream sent (R or R:k), got %q", id)
	}
	return rev, k, nil
}

// watch streams changes to a key or prefix as Server-Sent Events. See
// README.md for the format and the resume rules.
func (m *Module) watch(w http.ResponseWriter, r *http.Request) {
	if err := checkTab(r); err != nil {
		m.fail(w, r, err)
		return
	}
	wp, err := parseWatch(r)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	if wp.from == 0 {
		wp.from = m.ns.Store().Revision() + 1
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := m.ns.Watch(ctx, v3Prefix+wp.key, wp.from)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	// A stream outlives the write timeout the server sets for ordinary
	// requests. (The read deadline needs nothing: net/http clears it for
	// the background read that watches for the client going away.)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: rc, wp: wp}
	if !s.comment(fmt.Sprintf("watching from revision %d", wp.from)) {
		return
	}
	beat := time.NewTicker(m.opts.WatchHeartbeat)
	defer beat.Stop()
	draining := httpx.Draining(r.Context())
	for {
		select {
		case <-ctx.Done():
			return
		case <-draining:
			return
		case <-beat.C:
			if !s.comment("heartbeat") {
				return
			}
		case resp, ok := <-ch:
			if !ok {
				return
			}
			if resp.Err != nil {
				// Compaction overtook the watcher, or the store is closing:
				// say which, so the client knows whether resuming helps.
				e := toAPIError(resp.Err)
				if e.Code != apierr.CodeCompacted {
					e = apierr.Errorf(http.StatusServiceUnavailable, apierr.CodeUnavailable, "watch ended: %s", resp.Err)
				}
				s.fail(e)
				return
			}
			if !s.events(resp.Events) {
				return
			}
		}
	}
}

// sseWriter writes one watch stream.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	wp watchParams
	// rev is the revision being written and n how many of its (matching)
	// events came so far.
	rev int64
	n   int
}

func (s *sseWriter) flush() bool { return s.rc.Flush() == nil }

func (s *sseWriter) comment(text string) bool {
	if _, err := fmt.Fprintf(s.w, ": %s\n\n", text); err != nil {
		return false
	}
	return s.flush()
}

func (s *sseWriter) fail(e *apierr.Error) {
	b, _ := json.Marshal(errorResponse(e))
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	s.flush()
}

// events writes one response's events. A response never splits a
// revision, so the last event of each revision is known and gets the
// plain revision as its id.
func (s *sseWriter) events(evs []store.Event) bool {
	evs = s.match(evs)
	var b strings.Builder
	for i, ev := range evs {
		rev := ev.KV.ModRevision
		if rev != s.rev {
			s.rev, s.n = rev, 0
		}
		s.n++ // the event's position in its revision, from 1
		if s.rev == s.wp.from && s.n <= s.wp.skip {
			continue // delivered before the reconnect
		}
		id := strconv.FormatInt(rev, 10)
		if i+1 < len(evs) && evs[i+1].KV.ModRevision == rev {
			id += ":" + strconv.Itoa(s.n)
		}
		data, err := json.Marshal(watchEvent(ev))
		if err != nil {
			return false
		}
		fmt.Fprintf(&b, "id: %s\ndata: %s\n\n", id, data)
	}
	if b.Len() == 0 {
		return true
	}
	if _, err := s.w.Write([]byte(b.String())); err != nil {
		return false
	}
	return s.flush()
}

// match keeps the events the watch asked for: under the prefix, or of the
// exact key.
func (s *sseWriter) match(evs []store.Event) []store.Event {
	if s.wp.prefix {
		return evs
	}
	want := v3Prefix + s.wp.key
	out := evs[:0:0]
	for _, ev := range evs {
		if ev.KV.Key == want {
			out = append(out, ev)
		}
	}
	return out
}

func watchEvent(ev store.Event) WatchEvent {
	return WatchEvent{
		Type:          ev.Type.String(),
		Key:           strings.TrimPrefix(ev.KV.Key, v3Prefix),
		Value:         string(ev.KV.Value),
		CreatedIndex:  ev.KV.CreateRevision,
		ModifiedIndex: ev.KV.ModRevision,
		Version:       ev.KV.Version,
	}
}
