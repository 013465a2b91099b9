package kvtest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
)

// seen is one delivered event, as compared across streams.
type seen struct {
	id      string
	typ     string
	key     string
	rev     int64
	version int64
}

func (s seen) String() string {
	return fmt.Sprintf("%s %s %s@%d v%d", s.id, s.typ, s.key, s.rev, s.version)
}

func seenOf(ev sseEvent) seen {
	return seen{id: ev.id, typ: ev.event.Type, key: ev.event.Key, rev: ev.event.ModifiedIndex, version: ev.event.Version}
}

// position parses an id into (revision, position in revision); the last
// event of a revision ("R") sorts after its numbered ones ("R:k").
func position(t *testing.T, id string) (int64, int) {
	t.Helper()
	rs, ks, partial := strings.Cut(id, ":")
	rev, err := strconv.ParseInt(rs, 10, 64)
	if err != nil {
		t.Fatalf("bad id %q", id)
	}
	if !partial {
		return rev, 1 << 30
	}
	k, err := strconv.Atoi(ks)
	if err != nil {
		t.Fatalf("bad id %q", id)
	}
	return rev, k
}

// checkOrdered fails unless ids strictly increase and each event's id
// names its revision.
func checkOrdered(t *testing.T, got []seen) {
	t.Helper()
	var lastRev int64
	lastPos := 0
	for i, s := range got {
		rev, pos := position(t, s.id)
		if rev != s.rev {
			t.Fatalf("event %d: id %s for a change at revision %d", i, s.id, s.rev)
		}
		if rev < lastRev || (rev == lastRev && pos <= lastPos) {
			t.Fatalf("event %d (%s) out of order or repeated after revision %d position %d", i, s, lastRev, lastPos)
		}
		lastRev, lastPos = rev, pos
	}
}

// collect reads a stream until an event at revision >= until, or until it
// ends; it returns what it read and whether the stream is still open.
func collect(t *testing.T, s *stream, until int64, max int) ([]seen, bool) {
	t.Helper()
	var out []seen
	for len(out) < max {
		ev, ok := s.next(t, 20*time.Second)
		if !ok {
			return out, false
		}
		if ev.err != nil {
			t.Fatalf("watch error %v", ev.err)
		}
		out = append(out, seenOf(ev))
		if ev.event.ModifiedIndex >= until && !strings.Contains(ev.id, ":") {
			break
		}
	}
	return out, true
}

// reference reads every event from start to until on node i, in one
// stream that is never cut.
func (c *cluster) reference(t *testing.T, i int, query string, start, until int64) []seen {
	t.Helper()
	s, r := c.watch(i, fmt.Sprintf("%s&start_revision=%d", query, start), "")
	if s == nil {
		t.Fatalf("reference watch: %s", r)
	}
	defer s.close()
	got, _ := collect(t, s, until, 1<<20)
	return got
}

func sameStreams(t *testing.T, got, want []seen) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("resumed streams delivered %d events, one uncut stream %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("event %d: resumed streams %s, uncut stream %s", i, got[i], want[i])
		}
	}
}

// testWatchResume: a revision with several events resumed in its middle,
// then a stream cut twice under concurrent writes, resumed once with
// Last-Event-ID and once with start_revision on other nodes.
func testWatchResume(t *testing.T, c *cluster) {
	first := c.mustPut(1, "v3", map[string]any{"key": "/wr/d/1", "value": "1"})
	c.mustPut(2, "v3", map[string]any{"key": "/wr/d/2", "value": "2"})
	c.mustPut(3, "v3", map[string]any{"key": "/wr/d/3", "value": "3"})
	if r := c.del(1, "v3", map[string]any{"key": "/wr/d", "dir": true}); r.status != http.StatusOK {
		t.Fatal(r)
	}
	s, r := c.watch(2, fmt.Sprintf("key=%s&prefix=true&start_revision=%d", q("/wr/d/"), first.ModifiedIndex), "")
	if s == nil {
		t.Fatal(r)
	}
	var got []seen
	for range 6 {
		ev, ok := s.next(t, 10*time.Second)
		if !ok {
			t.Fatal("stream ended")
		}
		got = append(got, seenOf(ev))
	}
	s.close()
	checkOrdered(t, got)
	del := got[3].rev
	var ids []string
	for _, g := range got[3:] {
		if g.typ != "DELETE" || g.rev != del {
			t.Fatalf("want three deletes at one revision, got %v", got)
		}
		ids = append(ids, g.id)
	}
	if want := fmt.Sprintf("%d:1 %d:2 %d", del, del, del); strings.Join(ids, " ") != want {
		t.Fatalf("ids %v, want %s", ids, want)
	}
	// EventSource's reconnect: the first URL again, plus Last-Event-ID.
	s, r = c.watch(3, fmt.Sprintf("key=%s&prefix=true&start_revision=%d", q("/wr/d/"), first.ModifiedIndex), got[3].id)
	if s == nil {
		t.Fatal(r)
	}
	after := c.mustPut(1, "v3", map[string]any{"key": "/wr/d/4", "value": "4"})
	rest, _ := collect(t, s, after.ModifiedIndex, 10)
	s.close()
	if len(rest) != 3 || rest[0] != got[4] || rest[1] != got[5] || rest[2].key != "/wr/d/4" || rest[2].id != strconv.FormatInt(after.ModifiedIndex, 10) {
		t.Fatalf("resumed after %s: %v", got[3].id, rest)
	}

	// Concurrent writes, and a reader cut twice.
	const query = "key=%2Fws%2F&prefix=true"
	start := c.mustPut(1, "v3", map[string]any{"key": "/ws/start", "value": "0"}).ModifiedIndex
	var (
		wg    sync.WaitGroup
		acked []node
		final int64
		mu    sync.Mutex
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 60 {
			i := i
			n := 1 + i%3
			if i%10 == 9 {
				if r := c.del(n, "v3", map[string]any{"key": "/ws", "dir": true}); r.status != http.StatusOK {
					t.Errorf("delete: %s", r)
				}
				continue
			}
			r := c.put(n, "v3", map[string]any{"key": fmt.Sprintf("/ws/k%d", i%7), "value": strconv.Itoa(i)})
			if r.status != http.StatusOK {
				t.Errorf("put: %s", r)
				continue
			}
			mu.Lock()
			acked = append(acked, r.node(t))
			mu.Unlock()
		}
		final = c.mustPut(3, "v3", map[string]any{"key": "/ws/final", "value": "end"}).ModifiedIndex
	}()

	var all []seen
	s, r = c.watch(1, fmt.Sprintf("%s&start_revision=%d", query, start), "")
	if s == nil {
		t.Fatal(r)
	}
	part, _ := collect(t, s, 1<<62, 15)
	s.close()
	all = append(all, part...)
	// Resume on node 2 with Last-Event-ID, on the first URL.
	s, r = c.watch(2, fmt.Sprintf("%s&start_revision=%d", query, start), all[len(all)-1].id)
	if s == nil {
		t.Fatal(r)
	}
	part, _ = collect(t, s, 1<<62, 15)
	s.close()
	all = append(all, part...)
	// Resume on node 3 with start_revision (or Last-Event-ID inside a
	// revision), reading until the final write.
	last := all[len(all)-1].id
	if strings.Contains(last, ":") {
		s, r = c.watch(3, query, last)
	} else {
		s, r = c.watch(3, fmt.Sprintf("%s&start_revision=%d", query, all[len(all)-1].rev+1), "")
	}
	if s == nil {
		t.Fatal(r)
	}
	// The stream buffers what arrives meanwhile; read it to the end once
	// the last write is known.
	wg.Wait()
	if all[len(all)-1].rev < final {
		part, open := collect(t, s, final, 1<<20)
		if !open {
			t.Fatal("stream ended")
		}
		all = append(all, part...)
	}
	s.close()

	checkOrdered(t, all)
	sameStreams(t, all, c.reference(t, 2, query, start, final))
	count := map[int64]int{}
	for _, s := range all {
		count[s.rev]++
	}
	for _, a := range acked {
		if count[a.ModifiedIndex] != 1 {
			t.Fatalf("put %+v delivered %d times", a, count[a.ModifiedIndex])
		}
	}
}

// TestWatchAcrossLeaderChange watches through the leader while writes go
// on, stops the leader, and resumes through another node: the streams
// together deliver every change once, in order.
func TestWatchAcrossLeaderChange(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.leader()
	writer := 1 + lead%3    // a follower, which survives
	other := 1 + (lead+1)%3 // the third node
	const query = "key=%2Flc%2F&prefix=true"
	start := c.node(writer).n.Store().Revision() + 1

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []node
		final int64
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 80 && ctx.Err() == nil; i++ {
			body := map[string]any{"key": fmt.Sprintf("/lc/k%d", i%5), "value": strconv.Itoa(i)}
			if i == 79 {
				body["key"] = "/lc/final"
			}
			// Retry through the election: a write whose outcome is unknown
			// may land twice, which the comparison with an uncut stream
			// tolerates; every acknowledged one must be delivered once.
			for ctx.Err() == nil {
				r := c.try(writer, http.MethodPut, "/api/kv/v3/put", c.admin, body)
				if r.status == http.StatusOK {
					var n node
					if err := jsonNode(r, &n); err != nil {
						t.Errorf("put answer %s: %v", r, err)
						return
					}
					mu.Lock()
					acked = append(acked, n)
					if i == 79 {
						final = n.ModifiedIndex
					}
					mu.Unlock()
					break
				}
				if r.status != 0 && r.status != http.StatusServiceUnavailable {
					t.Errorf("put during the leader change: %s", r)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()

	s, r := c.watch(lead, fmt.Sprintf("%s&start_revision=%d", query, start), "")
	if s == nil {
		t.Fatal(r)
	}
	all, _ := collect(t, s, 1<<62, 20)
	// Stop the leader: its server drains, which ends the stream; what it
	// sent before the end counts as delivered.
	c.stop(c.node(lead))
	for {
		ev, ok := s.next(t, 20*time.Second)
		if !ok {
			break
		}
		if ev.err != nil {
			t.Fatalf("watch error %v", ev.err)
		}
		all = append(all, seenOf(ev))
	}
	newLead := c.leader()
	if newLead == lead {
		t.Fatalf("node %d still leads after it stopped", lead)
	}
	// Resume on a surviving node, as EventSource would.
	s, r = c.watch(other, fmt.Sprintf("%s&start_revision=%d", query, start), all[len(all)-1].id)
	if s == nil {
		t.Fatal(r)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if all[len(all)-1].rev < final {
		part, open := collect(t, s, final, 1<<20)
		if !open {
			t.Fatal("stream on a surviving node ended")
		}
		all = append(all, part...)
	}
	s.close()
	checkOrdered(t, all)
	sameStreams(t, all, c.reference(t, writer, query, start, final))
	count := map[int64]int{}
	for _, s := range all {
		count[s.rev]++
	}
	for _, a := range acked {
		if count[a.ModifiedIndex] != 1 {
			t.Fatalf("acknowledged put %+v delivered %d times", a, count[a.ModifiedIndex])
		}
	}
	t.Logf("%d events across a leader change (node %d → node %d), %d acknowledged puts", len(all), lead, newLead, len(acked))
}

// TestWatchCompactedHeartbeatDrain: a start below the compacted revision
// is refused with code compacted; an idle stream gets heartbeats; a
// server drain ends the stream.
func TestWatchCompactedHeartbeatDrain(t *testing.T) {
	c := startCluster(t, 1, func(cfg *config.Config) {
		cfg.Modules["kv"] = config.ModuleConfig{Enabled: true, Options: map[string]any{"watch_heartbeat": "100ms"}}
		// A stream outlives the server's read and write timeouts.
		cfg.HTTP.ReadTimeout = 500 * time.Millisecond
		cfg.HTTP.WriteTimeout = 500 * time.Millisecond
	})
	first := c.mustPut(1, "v3", map[string]any{"key": "/c/k", "value": "1"})
	last := c.mustPut(1, "v3", map[string]any{"key": "/c/k", "value": "2"})
	st := c.node(1).n.Store()
	if err := st.Compact(context.Background(), last.ModifiedIndex); err != nil {
		t.Fatal(err)
	}
	_, r := c.watch(1, fmt.Sprintf("key=/c/k&start_revision=%d", first.ModifiedIndex), "")
	wantError(t, r, http.StatusGone, "compacted")
	_, r = c.watch(1, "key=/c/k", strconv.FormatInt(first.ModifiedIndex-1, 10))
	wantError(t, r, http.StatusGone, "compacted")
	wantError(t, c.get(1, fmt.Sprintf("/api/kv/v3/get?key=/c/k&revision=%d", first.ModifiedIndex)), http.StatusGone, "compacted")
	if n := c.get(1, fmt.Sprintf("/api/kv/v3/get?key=/c/k&revision=%d", last.ModifiedIndex)).node(t); n.Value != "2" {
		t.Fatalf("read at the compacted revision: %+v", n)
	}

	s, r := c.watch(1, fmt.Sprintf("key=/c/k&start_revision=%d", last.ModifiedIndex), "")
	if s == nil {
		t.Fatal(r)
	}
	if ev, ok := s.next(t, 10*time.Second); !ok || ev.event.Value != "2" || ev.id != strconv.FormatInt(last.ModifiedIndex, 10) {
		t.Fatalf("first event %+v", ev)
	}
	// Heartbeats keep coming on the idle stream for well past both
	// timeouts (20 × 100ms).
	deadline := time.After(20 * time.Second)
	for beats := 0; beats < 20; {
		select {
		case cm := <-s.comments:
			if cm == "heartbeat" {
				beats++
			}
		case <-s.ended():
			t.Fatalf("the stream ended after %d heartbeats", beats)
		case <-deadline:
			t.Fatalf("%d heartbeats on an idle stream", beats)
		}
	}
	if r := c.mustPut(1, "v3", map[string]any{"key": "/c/k", "value": "3"}); true {
		if ev, ok := s.next(t, 10*time.Second); !ok || ev.event.ModifiedIndex != r.ModifiedIndex {
			t.Fatalf("event after the heartbeats: %+v", ev)
		}
	}
	go c.stop(c.node(1))
	for {
		if _, ok := s.next(t, 10*time.Second); !ok {
			break // the drain ended the stream well before the shutdown timeout
		}
	}
}

func jsonNode(r response, n *node) error {
	var nr struct {
		Node node `json:"node"`
	}
	if err := jsonUnmarshal(r.body, &nr); err != nil {
		return err
	}
	*n = nr.Node
	return nil
}
