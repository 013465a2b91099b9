package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// record queues n entries whose operations cycle through ops.
func record(l *Log, n int, ops ...string) {
	for i := 0; i < n; i++ {
		l.Record(Entry{Operation: ops[i%len(ops)], Target: fmt.Sprintf("/t/%d", i), Status: 200, Success: true})
	}
}

func TestListNewestFirstPagedAndFiltered(t *testing.T) {
	l := newLog(t, Options{})
	record(l, 25, "POST /api/auth/login", "PUT /api/kv/v3/put", "DELETE /api/kv/v3/delete", "POST /api/v2/login/", "POST /raft/join")
	waitTotal(t, l, 25)

	p, err := l.List(ctx(t), Query{Page: 1, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 25 || p.Page != 1 || p.PageSize != 10 || len(p.Entries) != 10 {
		t.Fatalf("page 1: total %d page %d size %d, %d entries", p.Total, p.Page, p.PageSize, len(p.Entries))
	}
	if p.Entries[0].Target != "/t/24" || p.Entries[9].Target != "/t/15" {
		t.Fatalf("page 1 runs %s .. %s, want /t/24 .. /t/15", p.Entries[0].Target, p.Entries[9].Target)
	}
	for i := 1; i < len(p.Entries); i++ {
		if !p.Entries[i].Time.Before(p.Entries[i-1].Time) {
			t.Fatalf("page 1 not newest first at %d", i)
		}
	}
	p, _ = l.List(ctx(t), Query{Page: 3, PageSize: 10})
	if len(p.Entries) != 5 || p.Entries[0].Target != "/t/4" || p.Entries[4].Target != "/t/0" {
		t.Fatalf("page 3: %d entries from %v", len(p.Entries), p.Entries)
	}
	p, _ = l.List(ctx(t), Query{Page: 4, PageSize: 10})
	if len(p.Entries) != 0 || p.Entries == nil || p.Total != 25 {
		t.Fatalf("page 4: %+v", p)
	}
	// Defaults as etcdmonitor applies them.
	p, _ = l.List(ctx(t), Query{})
	if p.Page != 1 || p.PageSize != DefaultPageSize || len(p.Entries) != DefaultPageSize {
		t.Fatalf("defaults: page %d size %d, %d entries", p.Page, p.PageSize, len(p.Entries))
	}

	// "login" is etcdmonitor's filter value; it matches both families' logins.
	p, _ = l.List(ctx(t), Query{Operation: "login", PageSize: 3})
	if p.Total != 10 || len(p.Entries) != 3 || p.Entries[0].Target != "/t/23" || p.Entries[1].Target != "/t/20" {
		t.Fatalf("login filter: total %d, %v", p.Total, p.Entries)
	}
	for _, e := range p.Entries {
		if !strings.Contains(e.Operation, "login") {
			t.Fatalf("filter let %q through", e.Operation)
		}
	}
	p, _ = l.List(ctx(t), Query{Operation: "post /RAFT/join", Page: 2, PageSize: 3})
	if p.Total != 5 || len(p.Entries) != 2 || p.Entries[1].Target != "/t/4" {
		t.Fatalf("exact filter page 2: total %d, %v", p.Total, p.Entries)
	}
}

func TestBatchIsOneTransaction(t *testing.T) {
	// Nothing flushes on time; the 100th entry fills the batch.
	const n = 100
	l := newLog(t, Options{BatchSize: n, FlushInterval: time.Hour})
	before := l.ns.Store().Revision()
	record(l, n, "POST /x")
	waitTotal(t, l, n)
	res, err := l.ns.List(ctx(t), keyPrefix, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, kv := range res.KVs {
		if kv.ModRevision != res.KVs[0].ModRevision {
			t.Fatalf("entries written at revisions %d and %d: not one transaction", res.KVs[0].ModRevision, kv.ModRevision)
		}
		e, err := decodeEntry(kv)
		if err != nil {
			t.Fatal(err)
		}
		ids[e.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct ids for %d entries", len(ids), n)
	}
	if after := l.ns.Store().Revision(); after != before+1 {
		t.Fatalf("revision %d -> %d: want one write for the batch", before, after)
	}
}

func TestFlushOnInterval(t *testing.T) {
	l := newLog(t, Options{BatchSize: 1000, FlushInterval: 20 * time.Millisecond})
	record(l, 3, "POST /x")
	waitTotal(t, l, 3) // far fewer than a batch: the ticker wrote them
}

func TestCloseFlushesBuffered(t *testing.T) {
	l := newLog(t, Options{BatchSize: 1000, FlushInterval: time.Hour})
	record(l, 7, "POST /x")
	if err := l.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	res, err := l.ns.List(ctx(t), keyPrefix, store.ListOptions{CountOnly: true})
	if err != nil || res.Count != 7 {
		t.Fatalf("after close: %d entries, %v", res.Count, err)
	}
}

func TestPruneByCount(t *testing.T) {
	l := newLog(t, Options{MaxEntries: 10})
	record(l, 25, "POST /x")
	waitTotal(t, l, 25)
	n, err := l.Prune(ctx(t))
	if err != nil || n != 15 {
		t.Fatalf("pruned %d, %v; want 15", n, err)
	}
	got := all(t, l)
	if len(got) != 10 || got[0].Target != "/t/24" || got[9].Target != "/t/15" {
		t.Fatalf("kept %d entries, %s .. %s; want the newest 10", len(got), got[0].Target, got[len(got)-1].Target)
	}
	if n, err := l.Prune(ctx(t)); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

func TestPruneByAge(t *testing.T) {
	l := newLog(t, Options{MaxEntries: 1000, Retention: time.Hour})
	old := time.Now().Add(-2 * time.Hour)
	for i := 0; i < 4; i++ {
		l.Record(Entry{Time: old.Add(time.Duration(i)), Operation: "POST /old", Status: 200})
	}
	record(l, 3, "POST /new")
	waitTotal(t, l, 7)
	if n, err := l.Prune(ctx(t)); err != nil || n != 4 {
		t.Fatalf("pruned %d, %v; want the 4 old entries", n, err)
	}
	for _, e := range all(t, l) {
		if e.Operation != "POST /new" {
			t.Fatalf("kept %+v", e)
		}
	}
}

func TestPrunerRunsOnLeader(t *testing.T) {
	l := newLog(t, Options{MaxEntries: 5, PruneInterval: 20 * time.Millisecond})
	record(l, 12, "POST /x")
	var total int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p, err := l.List(ctx(t), Query{PageSize: 1})
		if err == nil && p.Total == 5 && p.Entries[0].Target == "/t/11" {
			return
		}
		total = p.Total
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pruner left %d entries, want 5", total)
}

func TestWindow(t *testing.T) {
	for _, c := range []struct{ total, page, size, lo, hi int }{
		{25, 1, 10, 15, 25}, {25, 3, 10, 0, 5}, {25, 4, 10, 0, 0}, {0, 1, 10, 0, 0},
		{10, 1, 10, 0, 10}, {10, 2, 10, 0, 0}, {5, 1 << 62, 1000, 0, 0},
	} {
		if lo, hi := window(c.total, c.page, c.size); lo != c.lo || hi != c.hi {
			t.Errorf("window(%d, %d, %d) = %d, %d; want %d, %d", c.total, c.page, c.size, lo, hi, c.lo, c.hi)
		}
	}
}
