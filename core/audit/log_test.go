package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/storage"
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
	kvs := batches(t, l)
	if len(kvs) != 1 {
		t.Fatalf("%d keys for one batch, want 1", len(kvs))
	}
	m, err := parseBatchKey(kvs[0].Key)
	if err != nil || m.count != n || m.node != 7 || m.first >= m.last {
		t.Fatalf("batch key %q: %+v, %v", kvs[0].Key, m, err)
	}
	entries, err := decodeBatch(kvs[0])
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for i, e := range entries {
		ids[e.ID] = true
		if i > 0 && !e.Time.After(entries[i-1].Time) {
			t.Fatalf("batch not oldest first at %d", i)
		}
	}
	if len(ids) != n || entries[0].Time.UnixNano() != m.first || entries[n-1].Time.UnixNano() != m.last {
		t.Fatalf("%d distinct ids for %d entries; times %v..%v against key %+v", len(ids), n, entries[0].Time, entries[n-1].Time, m)
	}
	if after := l.ns.Store().Revision(); after != before+1 {
		t.Fatalf("revision %d -> %d: want one write for the batch", before, after)
	}
}

func TestBatchesStayUnderTheValueThreshold(t *testing.T) {
	// 256 entries of ~2 KiB: over 500 KiB in one flush.
	const n = 256
	l := newLog(t, Options{BatchSize: n, FlushInterval: time.Hour})
	params := `{"body":{"value":"` + strings.Repeat("p", 2000) + `"}}`
	for i := 0; i < n; i++ {
		l.Record(Entry{Operation: "PUT /api/kv/v3/put", Target: fmt.Sprintf("/t/%d", i), Params: params, Status: 200, Success: true})
	}
	waitTotal(t, l, n)
	kvs := batches(t, l)
	if len(kvs) < n*2000/maxBatchBytes {
		t.Fatalf("%d batch keys for %d entries of ~2 KiB, want at least %d", len(kvs), n, n*2000/maxBatchBytes)
	}
	count := 0
	for _, kv := range kvs {
		if len(kv.Value) >= storage.StateValueThreshold {
			t.Fatalf("batch %s holds %d bytes: in the value log (threshold %d)", kv.Key, len(kv.Value), storage.StateValueThreshold)
		}
		m, err := parseBatchKey(kv.Key)
		if err != nil {
			t.Fatal(err)
		}
		count += m.count
		entries, err := decodeBatch(kv)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range entries {
			if want := kv.ModRevision*idSpan + int64(j); e.ID != want {
				t.Fatalf("batch %s entry %d: id %d, want %d (its place in its own batch)", kv.Key, j, e.ID, want)
			}
		}
	}
	if got := all(t, l); count != n || len(got) != n || got[0].Target != fmt.Sprintf("/t/%d", n-1) {
		t.Fatalf("keys count %d entries, listing has %d starting at %s; want %d from /t/%d", count, len(got), got[0].Target, n, n-1)
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
	if got := len(all(t, l)); got != 7 {
		t.Fatalf("after close: %d entries, want 7", got)
	}
}

func TestPruneByCount(t *testing.T) {
	l := newLog(t, Options{MaxEntries: 10})
	record(l, 25, "POST /x")
	waitTotal(t, l, 25)
	ids := map[string]int64{}
	for _, e := range all(t, l) {
		ids[e.Target] = e.ID
	}
	n, err := l.Prune(ctx(t))
	if err != nil || n != 15 {
		t.Fatalf("pruned %d, %v; want 15", n, err)
	}
	got := all(t, l)
	for _, e := range got {
		if ids[e.Target] != e.ID {
			t.Fatalf("%s: id %d after the prune, %d before", e.Target, e.ID, ids[e.Target])
		}
	}
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

func TestPageBeyondTheEnd(t *testing.T) {
	l := newLog(t, Options{})
	record(l, 5, "POST /x")
	waitTotal(t, l, 5)
	for _, q := range []Query{{Page: 2, PageSize: 5}, {Page: 1 << 62, PageSize: MaxPageSize}, {Page: 6, PageSize: 1}} {
		p, err := l.List(ctx(t), q)
		if err != nil || len(p.Entries) != 0 || p.Entries == nil || p.Total != 5 {
			t.Fatalf("%+v: %+v, %v", q, p, err)
		}
	}
}

// Batches of two nodes overlap in time; the listing and the pruner still
// go by the entries' times.
func TestBatchesOfTwoNodesInterleave(t *testing.T) {
	a := newLog(t, Options{NodeID: 1, BatchSize: 1000, FlushInterval: time.Hour, MaxEntries: 6})
	b := New(a.ns, Options{NodeID: 2, BatchSize: 1000, FlushInterval: time.Hour, Logger: testLogger(), PruneInterval: time.Hour})
	t.Cleanup(func() { b.Close(context.Background()) })
	t0 := time.Now()
	for i := 0; i < 10; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		l.Record(Entry{Time: t0.Add(time.Duration(i) * time.Millisecond), Operation: "POST /x", Target: fmt.Sprintf("/t/%d", i), Status: 200})
	}
	a.Close(ctx(t))
	b.Close(ctx(t))
	got := all(t, a)
	if len(got) != 10 {
		t.Fatalf("%d entries, want 10", len(got))
	}
	for i, e := range got {
		if want := fmt.Sprintf("/t/%d", 9-i); e.Target != want {
			t.Fatalf("entry %d is %s, want %s", i, e.Target, want)
		}
	}
	// Each node's five entries are one batch. The pruner goes by batches in
	// the order of their newest entries: keeping six, it drops the four
	// oldest of node 1's batch (newest /t/8) and keeps node 2's whole, so
	// "oldest" holds to within the span of a batch.
	if n, err := a.Prune(ctx(t)); err != nil || n != 4 {
		t.Fatalf("pruned %d, %v; want 4", n, err)
	}
	var kept []string
	for _, e := range all(t, a) {
		kept = append(kept, e.Target)
	}
	if want := []string{"/t/9", "/t/8", "/t/7", "/t/5", "/t/3", "/t/1"}; !slices.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
}

// A log written before batches (one key per entry) still reads and prunes.
func TestOneEntryKeysStillRead(t *testing.T) {
	l := newLog(t, Options{MaxEntries: 2})
	old := time.Now().Add(-time.Minute)
	for i := 0; i < 3; i++ {
		at := old.Add(time.Duration(i) * time.Second)
		v, _ := json.Marshal(stored{Entry: Entry{Operation: "POST /old", Target: fmt.Sprintf("/old/%d", i), Time: at, NodeID: 3}})
		op, err := l.ns.AppendOp(fmt.Sprintf("%s%020d/%d", keyPrefix, at.UnixNano(), 3), v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.ns.Txn(ctx(t), nil, []store.Op{op}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := all(t, l)
	if len(got) != 3 || got[0].Target != "/old/2" || got[0].ID == 0 {
		t.Fatalf("old entries: %+v", got)
	}
	if n, err := l.Prune(ctx(t)); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if got := all(t, l); len(got) != 2 || got[1].Target != "/old/1" {
		t.Fatalf("after prune: %+v", got)
	}
}

// Pages read from the newest batches only are the pages of the full,
// time-sorted log (the filtered listing reads every batch), however the
// batches of three nodes overlap.
func TestPagesOfOverlappingBatches(t *testing.T) {
	var logs []*Log
	first := newLog(t, Options{NodeID: 1, BatchSize: 4, FlushInterval: time.Hour})
	logs = append(logs, first)
	for id := uint64(2); id <= 3; id++ {
		l := New(first.ns, Options{NodeID: id, BatchSize: 4, FlushInterval: time.Hour, Logger: testLogger(), PruneInterval: time.Hour})
		t.Cleanup(func() { l.Close(context.Background()) })
		logs = append(logs, l)
	}
	t0 := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	at := make([]time.Duration, 3)
	for i := 0; i < 60; i++ {
		n := rng.IntN(3)
		at[n] += time.Duration(1+rng.IntN(20)) * time.Millisecond
		logs[n].Record(Entry{Time: t0.Add(at[n]), Operation: "POST /x", Target: fmt.Sprintf("/t/%d", i), Status: 200})
	}
	for _, l := range logs {
		l.Close(ctx(t))
	}
	for _, size := range []int{1, 3, 7, 20} {
		for page := 1; page <= 60/size+2; page++ {
			got, err := first.List(ctx(t), Query{Page: page, PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			want, err := first.List(ctx(t), Query{Page: page, PageSize: size, Operation: "/x"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != 60 || want.Total != 60 || len(got.Entries) != len(want.Entries) {
				t.Fatalf("size %d page %d: %d of %d entries, want %d of %d", size, page, len(got.Entries), got.Total, len(want.Entries), want.Total)
			}
			for i := range got.Entries {
				if got.Entries[i].Target != want.Entries[i].Target || got.Entries[i].ID != want.Entries[i].ID {
					t.Fatalf("size %d page %d entry %d: %s, want %s", size, page, i, got.Entries[i].Target, want.Entries[i].Target)
				}
			}
		}
	}
}
