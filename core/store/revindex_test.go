package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// rv is a short way to write a revision.
func rv(main int64, sub uint32) revision { return revision{main: main, sub: sub} }

// histStep is one change in a scripted key history: a put, or a tombstone
// when del is set.
type histStep struct {
	r   revision
	del bool
}

// buildHistory replays steps into a new keyHistory, failing the test if a
// tombstone finds the key not live.
func buildHistory(t *testing.T, steps []histStep) *keyHistory {
	t.Helper()
	h := &keyHistory{key: "k"}
	for _, s := range steps {
		if !s.del {
			h.put(s.r)
		} else if !h.tombstone(s.r) {
			t.Fatalf("tombstone at %v: key not live", s.r)
		}
	}
	return h
}

// readCase is a read at rev and what it must find.
type readCase struct {
	rev  int64
	want revision
	ok   bool
}

// checkReads runs every read in cases against h.
func checkReads(t *testing.T, h *keyHistory, cases []readCase) {
	t.Helper()
	for _, c := range cases {
		got, ok := h.at(c.rev)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("at(%d) = %v, %v; want %v, %v", c.rev, got, ok, c.want, c.ok)
		}
	}
}

func TestKeyHistoryPutAt(t *testing.T) {
	h := buildHistory(t, []histStep{{r: rv(3, 0)}, {r: rv(5, 0)}, {r: rv(9, 0)}})
	if !h.live() || len(h.gens) != 1 {
		t.Fatalf("live = %v with %d generations; want live with 1", h.live(), len(h.gens))
	}
	checkReads(t, h, []readCase{
		{rev: 0},
		{rev: 2},                           // before creation
		{rev: 3, want: rv(3, 0), ok: true}, // at the creation
		{rev: 4, want: rv(3, 0), ok: true}, // between puts
		{rev: 5, want: rv(5, 0), ok: true},
		{rev: 8, want: rv(5, 0), ok: true},
		{rev: 9, want: rv(9, 0), ok: true},
		{rev: 1 << 40, want: rv(9, 0), ok: true}, // far above
	})
	if _, ok := (&keyHistory{key: "none"}).at(100); ok {
		t.Error("at on an empty history is ok")
	}
}

func TestKeyHistoryTombstone(t *testing.T) {
	h := buildHistory(t, []histStep{{r: rv(3, 0)}, {r: rv(5, 0)}, {r: rv(7, 0), del: true}})
	if h.live() {
		t.Fatal("live after a tombstone")
	}
	checkReads(t, h, []readCase{
		{rev: 6, want: rv(5, 0), ok: true},
		{rev: 7}, // deleted at 7
		{rev: 8},
	})

	// A tombstone on a key that is not live returns false and changes nothing.
	before := buildHistory(t, []histStep{{r: rv(3, 0)}, {r: rv(5, 0)}, {r: rv(7, 0), del: true}})
	if h.tombstone(rv(8, 0)) {
		t.Error("tombstone on a deleted key returned true")
	}
	if !reflect.DeepEqual(h, before) {
		t.Errorf("tombstone on a deleted key changed the history: %+v, was %+v", h, before)
	}
	empty := &keyHistory{key: "k"}
	if empty.tombstone(rv(1, 0)) || len(empty.gens) != 0 {
		t.Errorf("tombstone on a never-written key: gens %+v", empty.gens)
	}

	// A put after the tombstone opens a second generation.
	h.put(rv(10, 0))
	h.put(rv(12, 0))
	if !h.live() || len(h.gens) != 2 {
		t.Fatalf("live = %v with %d generations; want live with 2", h.live(), len(h.gens))
	}
	checkReads(t, h, []readCase{
		{rev: 2},
		{rev: 3, want: rv(3, 0), ok: true}, // the first generation still reads
		{rev: 6, want: rv(5, 0), ok: true},
		{rev: 7}, // the gap
		{rev: 9},
		{rev: 10, want: rv(10, 0), ok: true},
		{rev: 11, want: rv(10, 0), ok: true},
		{rev: 12, want: rv(12, 0), ok: true},
		{rev: 100, want: rv(12, 0), ok: true},
	})
	if !h.tombstone(rv(15, 0)) || h.live() {
		t.Error("tombstone on the live second generation failed")
	}
	checkReads(t, h, []readCase{{rev: 14, want: rv(12, 0), ok: true}, {rev: 15}, {rev: 100}})
}

func TestKeyHistorySameEntry(t *testing.T) {
	h := buildHistory(t, []histStep{
		{r: rv(4, 0)}, {r: rv(4, 1)}, {r: rv(4, 2)}, // three puts in entry 4
		{r: rv(6, 0)}, {r: rv(6, 1), del: true}, {r: rv(6, 2)}, // put, delete, put in entry 6
		{r: rv(8, 0)}, {r: rv(8, 1), del: true}, // put, delete in entry 8
		{r: rv(9, 0), del: false}, {r: rv(9, 1)}, {r: rv(9, 2)}, // recreated in 9
	})
	checkReads(t, h, []readCase{
		{rev: 3},
		{rev: 4, want: rv(4, 2), ok: true},
		{rev: 5, want: rv(4, 2), ok: true},
		{rev: 6, want: rv(6, 2), ok: true},
		{rev: 7, want: rv(6, 2), ok: true},
		{rev: 8},
		{rev: 9, want: rv(9, 2), ok: true},
	})
}

// compactHistory has four generations: one closed by a later entry, one
// created and deleted in a single entry, one deleted and recreated in the
// same entry as the next one begins, and an open one with several changes
// per entry.
var compactHistory = []histStep{
	{r: rv(2, 0)}, {r: rv(4, 0)}, {r: rv(4, 1)}, {r: rv(6, 0)}, {r: rv(8, 0), del: true},
	{r: rv(11, 0)}, {r: rv(11, 1), del: true},
	{r: rv(13, 0)}, {r: rv(15, 0)}, {r: rv(17, 0), del: true},
	{r: rv(17, 1)}, {r: rv(20, 0)}, {r: rv(20, 1)}, {r: rv(23, 0)},
}

// readsFrom records at(rev) for every rev in [from, to].
func readsFrom(h *keyHistory, from, to int64) []readCase {
	var out []readCase
	for rev := from; rev <= to; rev++ {
		r, ok := h.at(rev)
		out = append(out, readCase{rev: rev, want: r, ok: ok})
	}
	return out
}

func TestKeyHistoryCompactKeepsReads(t *testing.T) {
	const top = 28 // beyond the last revision, 23
	orig := buildHistory(t, compactHistory)
	for c := int64(0); c <= top; c++ {
		h := buildHistory(t, compactHistory)
		before := readsFrom(h, c, top)
		var kept []revision
		empty := h.compact(c, func(r revision) { kept = append(kept, r) })
		if empty {
			t.Errorf("c=%d: compact reported empty with an open generation", c)
		}
		if after := readsFrom(h, c, top); !slices.Equal(after, before) {
			t.Errorf("c=%d: reads changed:\nbefore %v\nafter  %v", c, before, after)
		}

		// keep saw exactly the revisions below c that remain, once each.
		var below []revision
		for _, g := range h.gens {
			for _, r := range g.revs {
				if r.main < c {
					below = append(below, r)
				}
			}
		}
		if !slices.Equal(kept, below) {
			t.Errorf("c=%d: keep got %v; revisions below c left: %v", c, kept, below)
		}

		// A generation closed at or below c is gone; every other one stays,
		// recognised by its last revision.
		for _, og := range orig.gens {
			last := og.revs[len(og.revs)-1]
			present := slices.ContainsFunc(h.gens, func(g generation) bool { return g.revs[len(g.revs)-1] == last })
			if gone := og.closed && last.main <= c; present == gone {
				t.Errorf("c=%d: generation ending %v present = %v", c, last, present)
			}
		}
	}

	// Successive compactions of one history agree with the original too.
	h := buildHistory(t, compactHistory)
	for c := int64(0); c <= top; c++ {
		h.compact(c, func(revision) {})
		if got, want := readsFrom(h, c, top), readsFrom(orig, c, top); !slices.Equal(got, want) {
			t.Errorf("after successive compactions up to %d: reads %v; want %v", c, got, want)
		}
	}
}

func TestKeyHistoryCompactRule(t *testing.T) {
	// gen builds an expected generation.
	gen := func(closed bool, revs ...revision) generation { return generation{revs: revs, closed: closed} }
	full := buildHistory(t, compactHistory).gens
	tests := []struct {
		c    int64
		gens []generation
		kept []revision
	}{
		{c: 0, gens: full},
		{c: 2, gens: append([]generation{gen(true, rv(2, 0), rv(4, 0), rv(4, 1), rv(6, 0), rv(8, 0))}, full[1:]...)},
		{c: 5, gens: append([]generation{gen(true, rv(4, 1), rv(6, 0), rv(8, 0))}, full[1:]...), kept: []revision{rv(4, 1)}},
		{c: 7, gens: append([]generation{gen(true, rv(6, 0), rv(8, 0))}, full[1:]...), kept: []revision{rv(6, 0)}},
		{c: 8, gens: full[1:]},  // the first generation ended at 8
		{c: 11, gens: full[2:]}, // the second was born and died at 11
		{c: 14, gens: full[2:], kept: []revision{rv(13, 0)}},
		{c: 16, gens: append([]generation{gen(true, rv(15, 0), rv(17, 0))}, full[3:]...), kept: []revision{rv(15, 0)}},
		{c: 17, gens: full[3:]}, // (17,1) stays but is not below 17
		{c: 21, gens: []generation{gen(false, rv(20, 1), rv(23, 0))}, kept: []revision{rv(20, 1)}},
		{c: 99, gens: []generation{gen(false, rv(23, 0))}, kept: []revision{rv(23, 0)}},
	}
	for _, tt := range tests {
		h := buildHistory(t, compactHistory)
		var kept []revision
		h.compact(tt.c, func(r revision) { kept = append(kept, r) })
		if !reflect.DeepEqual(h.gens, tt.gens) {
			t.Errorf("compact(%d): generations %+v; want %+v", tt.c, h.gens, tt.gens)
		}
		if !slices.Equal(kept, tt.kept) {
			t.Errorf("compact(%d): kept %v; want %v", tt.c, kept, tt.kept)
		}
	}
}

func TestKeyHistoryCompactEmpty(t *testing.T) {
	closed := []histStep{{r: rv(2, 0)}, {r: rv(5, 0), del: true}}
	open := []histStep{{r: rv(2, 0)}, {r: rv(5, 0), del: true}, {r: rv(7, 0)}}
	tests := []struct {
		name  string
		steps []histStep
		c     int64
		empty bool
		kept  []revision
	}{
		{name: "never written", c: 10, empty: true},
		{name: "closed, compacted below the tombstone", steps: closed, c: 4, kept: []revision{rv(2, 0)}},
		{name: "closed, compacted at the tombstone", steps: closed, c: 5, empty: true},
		{name: "closed, compacted above the tombstone", steps: closed, c: 9, empty: true},
		{name: "reopened, compacted in the gap", steps: open, c: 6},
		{name: "reopened, compacted far above", steps: open, c: 100, kept: []revision{rv(7, 0)}},
	}
	for _, tt := range tests {
		h := buildHistory(t, tt.steps)
		var kept []revision
		if empty := h.compact(tt.c, func(r revision) { kept = append(kept, r) }); empty != tt.empty || (len(h.gens) == 0) != tt.empty {
			t.Errorf("%s: compact(%d) = %v with %d generations left; want empty %v", tt.name, tt.c, empty, len(h.gens), tt.empty)
		}
		if !slices.Equal(kept, tt.kept) {
			t.Errorf("%s: kept %v; want %v", tt.name, kept, tt.kept)
		}
	}
}

// panics reports whether fn panics.
func panics(fn func()) (did bool) {
	defer func() {
		if recover() != nil {
			did = true
		}
	}()
	fn()
	return false
}

func TestKeyHistoryPanicsOnOldRevision(t *testing.T) {
	base := []histStep{{r: rv(5, 0)}, {r: rv(5, 2)}}
	deleted := []histStep{{r: rv(5, 0)}, {r: rv(7, 1), del: true}}
	tests := []struct {
		name  string
		steps []histStep
		del   bool
		r     revision
		panic bool
	}{
		{name: "put equal to the last", steps: base, r: rv(5, 2), panic: true},
		{name: "put below the last, same main", steps: base, r: rv(5, 1), panic: true},
		{name: "put below the last main", steps: base, r: rv(4, 9), panic: true},
		{name: "put at the tombstone", steps: deleted, r: rv(7, 1), panic: true},
		{name: "put below the tombstone", steps: deleted, r: rv(7, 0), panic: true},
		{name: "tombstone equal to the last", steps: base, del: true, r: rv(5, 2), panic: true},
		{name: "put just above the last", steps: base, r: rv(5, 3)},
		{name: "put just above the tombstone", steps: deleted, r: rv(7, 2)},
		{name: "tombstone just above the last", steps: base, del: true, r: rv(5, 3)},
	}
	for _, tt := range tests {
		h := buildHistory(t, tt.steps)
		op := func() { h.put(tt.r) }
		if tt.del {
			op = func() { h.tombstone(tt.r) }
		}
		if got := panics(op); got != tt.panic {
			t.Errorf("%s: panicked = %v; want %v", tt.name, got, tt.panic)
		}
	}

	// The index releases its lock when put panics.
	x := newRevIndex()
	x.put("a", rv(3, 0))
	if !panics(func() { x.put("a", rv(2, 0)) }) {
		t.Fatal("revIndex.put of an old revision did not panic")
	}
	if r, ok := x.get("a", 3); !ok || r != rv(3, 0) {
		t.Errorf("get after the panic = %v, %v", r, ok)
	}
}

// keyRev is one result of a range read.
type keyRev struct {
	key string
	r   revision
}

// collect runs rangeAt and returns what fn saw, stopping after limit keys
// when limit > 0.
func collect(x *revIndex, start, end string, rev int64, limit int) []keyRev {
	var got []keyRev
	x.rangeAt(start, end, rev, func(key string, r revision) bool {
		got = append(got, keyRev{key, r})
		return limit <= 0 || len(got) < limit
	})
	return got
}

// checkShape fails the test unless the tree and the map of x hold the same
// histories, none of them empty.
func checkShape(t *testing.T, x *revIndex) {
	t.Helper()
	if x.tree.Len() != len(x.keys) {
		t.Fatalf("tree holds %d histories, map %d", x.tree.Len(), len(x.keys))
	}
	x.tree.Ascend(func(h *keyHistory) bool {
		if x.keys[h.key] != h || len(h.gens) == 0 {
			t.Fatalf("history of %q: in map %v, %d generations", h.key, x.keys[h.key] == h, len(h.gens))
		}
		return true
	})
}

func TestRevIndexGetAndLen(t *testing.T) {
	x := newRevIndex()
	if x.len() != 0 {
		t.Fatalf("new index holds %d keys", x.len())
	}
	if x.tombstone("a", rv(1, 0)) || x.len() != 0 {
		t.Fatal("tombstone of a missing key returned true or added it")
	}
	x.put("a", rv(1, 0))
	x.put("b", rv(1, 1))
	x.put("a", rv(2, 0))
	if !x.tombstone("b", rv(3, 0)) {
		t.Fatal("tombstone of a live key returned false")
	}
	if x.tombstone("b", rv(4, 0)) {
		t.Fatal("second tombstone returned true")
	}
	if x.len() != 2 {
		t.Errorf("len = %d; want 2 (a deleted key is still held)", x.len())
	}
	checkShape(t, x)
	tests := []struct {
		key  string
		rev  int64
		want revision
		ok   bool
	}{
		{key: "a", rev: 0},
		{key: "a", rev: 1, want: rv(1, 0), ok: true},
		{key: "a", rev: 9, want: rv(2, 0), ok: true},
		{key: "b", rev: 2, want: rv(1, 1), ok: true},
		{key: "b", rev: 3},
		{key: "c", rev: 9},
	}
	for _, tt := range tests {
		if got, ok := x.get(tt.key, tt.rev); ok != tt.ok || got != tt.want {
			t.Errorf("get(%q, %d) = %v, %v; want %v, %v", tt.key, tt.rev, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRevIndexRangeAt(t *testing.T) {
	x := newRevIndex()
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		x.put(k, rv(int64(i+1), 0)) // a@1 … e@5
	}
	x.tombstone("c", rv(6, 0))
	x.put("bb", rv(7, 0))
	x.put("a", rv(8, 0))
	x.put("Z", rv(8, 1))     // sorts before "a"
	x.put("é", rv(8, 2))     // sorts after "e" in byte order
	x.put("b\x00", rv(9, 0)) // between "b" and "bb"
	tests := []struct {
		start, end string
		rev        int64
		limit      int
		want       []keyRev
	}{
		{rev: 0},
		{rev: 2, want: []keyRev{{"a", rv(1, 0)}, {"b", rv(2, 0)}}},
		{rev: 5, want: []keyRev{{"a", rv(1, 0)}, {"b", rv(2, 0)}, {"c", rv(3, 0)}, {"d", rv(4, 0)}, {"e", rv(5, 0)}}},
		{rev: 9, want: []keyRev{{"Z", rv(8, 1)}, {"a", rv(8, 0)}, {"b", rv(2, 0)}, {"b\x00", rv(9, 0)}, {"bb", rv(7, 0)}, {"d", rv(4, 0)}, {"e", rv(5, 0)}, {"é", rv(8, 2)}}},
		{start: "b", end: "d", rev: 9, want: []keyRev{{"b", rv(2, 0)}, {"b\x00", rv(9, 0)}, {"bb", rv(7, 0)}}},
		{start: "b", end: "d", rev: 5, want: []keyRev{{"b", rv(2, 0)}, {"c", rv(3, 0)}}},
		{start: "b", end: "bb", rev: 9, want: []keyRev{{"b", rv(2, 0)}, {"b\x00", rv(9, 0)}}},
		{start: "a0", end: "c", rev: 6, want: []keyRev{{"b", rv(2, 0)}}},
		{start: "c", end: "", rev: 9, want: []keyRev{{"d", rv(4, 0)}, {"e", rv(5, 0)}, {"é", rv(8, 2)}}},
		{start: "c", end: "c", rev: 9},
		{start: "d", end: "b", rev: 9},
		{start: "f", rev: 7},
		{start: "f", rev: 8, want: []keyRev{{"é", rv(8, 2)}}},
		{rev: 9, limit: 1, want: []keyRev{{"Z", rv(8, 1)}}},
		{rev: 9, limit: 3, want: []keyRev{{"Z", rv(8, 1)}, {"a", rv(8, 0)}, {"b", rv(2, 0)}}},
		{start: "bb", end: "z", rev: 9, limit: 2, want: []keyRev{{"bb", rv(7, 0)}, {"d", rv(4, 0)}}},
	}
	for _, tt := range tests {
		if got := collect(x, tt.start, tt.end, tt.rev, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("rangeAt(%q, %q, %d) limit %d = %v; want %v", tt.start, tt.end, tt.rev, tt.limit, got, tt.want)
		}
	}
}

func TestRevIndexCompact(t *testing.T) {
	x := newRevIndex()
	x.put("a", rv(1, 0))
	x.put("b", rv(2, 0))
	x.put("a", rv(3, 0))
	x.tombstone("b", rv(4, 0))
	x.put("c", rv(5, 0))

	kept := x.compact(4)
	if want := map[revision]struct{}{rv(3, 0): {}}; !reflect.DeepEqual(kept, want) {
		t.Errorf("compact(4) kept %v; want %v", kept, want)
	}
	if x.len() != 2 {
		t.Errorf("len after compact(4) = %d; want 2 (b, deleted at 4, is dropped)", x.len())
	}
	checkShape(t, x)
	if got := collect(x, "", "", 4, 0); !slices.Equal(got, []keyRev{{"a", rv(3, 0)}}) {
		t.Errorf("range at 4 after compaction = %v", got)
	}
	if _, ok := x.get("b", 4); ok {
		t.Error("b visible at 4 after compaction")
	}
	// b is gone from the tree as well as the map: a new b is a fresh history.
	x.put("b", rv(6, 0))
	if got := collect(x, "", "", 6, 0); !slices.Equal(got, []keyRev{{"a", rv(3, 0)}, {"b", rv(6, 0)}, {"c", rv(5, 0)}}) {
		t.Errorf("range at 6 = %v", got)
	}

	kept = x.compact(6)
	if want := map[revision]struct{}{rv(3, 0): {}, rv(5, 0): {}}; !reflect.DeepEqual(kept, want) {
		t.Errorf("compact(6) kept %v; want %v", kept, want)
	}
	if x.len() != 3 {
		t.Errorf("len after compact(6) = %d; want 3", x.len())
	}
}

// modelEvent is one change of a key in the naive model.
type modelEvent struct {
	main    int64
	sub     uint32
	deleted bool
}

// revModel is the naive model of the index: every change of every key, in order.
type revModel map[string][]modelEvent

// at is the model's answer to a read of key at rev: the last change at or
// below rev, if it was a put.
func (m revModel) at(key string, rev int64) (revision, bool) {
	var r revision
	ok := false
	for _, e := range m[key] {
		if e.main > rev {
			break
		}
		r, ok = rv(e.main, e.sub), !e.deleted
	}
	if !ok {
		return revision{}, false
	}
	return r, true
}

// live reports whether the model's key exists after its last change.
func (m revModel) live(key string) bool {
	evs := m[key]
	return len(evs) > 0 && !evs[len(evs)-1].deleted
}

func TestRevIndexMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260601, 7))
	x := newRevIndex()
	m := revModel{}
	var keys []string // in byte order
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	var main int64 // the last revision written

	// write applies n entries of one to three random changes of keys in
	// pool to x and m.
	write := func(n int, pool []string) {
		for range n {
			main++
			for sub := range uint32(1 + rng.IntN(3)) {
				key := pool[rng.IntN(len(pool))]
				r := rv(main, sub)
				if rng.IntN(4) == 0 {
					if got, want := x.tombstone(key, r), m.live(key); got != want {
						t.Fatalf("tombstone(%q, %v) = %v; model says live = %v", key, r, got, want)
					}
					if m.live(key) {
						m[key] = append(m[key], modelEvent{main: main, sub: sub, deleted: true})
					}
					continue
				}
				x.put(key, r)
				m[key] = append(m[key], modelEvent{main: main, sub: sub})
			}
		}
	}

	// check compares every get at or above c, and random ranges, with the model.
	bounds := []string{"", "k", "k00", "k05", "k05x", "k1", "k13", "k19", "k19x", "l"}
	check := func(c int64) {
		t.Helper()
		for _, key := range append(keys, "missing") {
			for rev := c; rev <= main+2; rev++ {
				got, ok := x.get(key, rev)
				want, wantOK := m.at(key, rev)
				if ok != wantOK || got != want {
					t.Fatalf("get(%q, %d) = %v, %v; model %v, %v (compacted at %d)", key, rev, got, ok, want, wantOK, c)
				}
			}
		}
		for range 200 {
			start, end := bounds[rng.IntN(len(bounds))], bounds[rng.IntN(len(bounds))]
			rev := c + rng.Int64N(main-c+3)
			var want []keyRev
			for _, key := range keys {
				if key >= start && (end == "" || key < end) {
					if r, ok := m.at(key, rev); ok {
						want = append(want, keyRev{key, r})
					}
				}
			}
			if got := collect(x, start, end, rev, 0); !slices.Equal(got, want) {
				t.Fatalf("rangeAt(%q, %q, %d) = %v; model %v", start, end, rev, got, want)
			}
		}
	}

	// compact compacts x at c and checks what it kept, and all reads at or
	// above c, against the model.
	compact := func(c int64) {
		t.Helper()
		kept := x.compact(c)
		// What stays below c is, per key, the put a read at c sees, if older than c;
		// a key stays while it is visible at c or changes after it.
		wantKept := map[revision]struct{}{}
		wantLen := 0
		for _, key := range keys {
			r, ok := m.at(key, c)
			if ok && r.main < c {
				wantKept[r] = struct{}{}
			}
			if evs := m[key]; ok || (len(evs) > 0 && evs[len(evs)-1].main > c) {
				wantLen++
			}
		}
		if !reflect.DeepEqual(kept, wantKept) {
			t.Fatalf("compact(%d) kept %v; model %v", c, kept, wantKept)
		}
		if x.len() != wantLen {
			t.Fatalf("len after compact(%d) = %d; model %d", c, x.len(), wantLen)
		}
		checkShape(t, x)
		check(c)
	}

	write(2000, keys)
	check(0)
	var c int64
	for round := range 5 {
		c += 1 + rng.Int64N(main-c) // in (c, main]
		compact(c)
		// Fewer keys change each round, so keys deleted earlier and written
		// no more are dropped by later compactions.
		write(300, keys[:len(keys)-3*round])
		check(c)
	}
	// Delete every live key in one entry and compact there: nothing is left.
	main++
	for sub, key := range keys {
		if m.live(key) {
			if !x.tombstone(key, rv(main, uint32(sub))) {
				t.Fatalf("tombstone(%q) found it not live", key)
			}
			m[key] = append(m[key], modelEvent{main: main, sub: uint32(sub), deleted: true})
		}
	}
	compact(main)
	if x.len() != 0 {
		t.Fatalf("len = %d after deleting every key and compacting", x.len())
	}
}

func TestRevIndexConcurrent(t *testing.T) {
	x := newRevIndex()
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var head atomic.Int64 // the last revision written
	var wg sync.WaitGroup
	done := make(chan struct{})
	for seed := range uint64(3) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				rev := head.Load()
				if r, ok := x.get(keys[rng.IntN(len(keys))], rev); ok && r.main > rev {
					t.Errorf("get at %d returned %v", rev, r)
				}
				prev := ""
				x.rangeAt("", "", rev, func(key string, r revision) bool {
					if key <= prev || r.main > rev {
						t.Errorf("rangeAt at %d: %q %v after %q", rev, key, r, prev)
					}
					prev = key
					return true
				})
			}
		}()
	}
	rng := rand.New(rand.NewPCG(99, 1))
	for main := int64(1); main <= 3000; main++ {
		for sub := range uint32(1 + rng.IntN(2)) {
			key := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 {
				x.tombstone(key, rv(main, sub))
			} else {
				x.put(key, rv(main, sub))
			}
		}
		head.Store(main)
		if main%500 == 0 {
			x.compact(main - 100)
		}
	}
	close(done)
	wg.Wait()
	if x.len() == 0 || x.len() > len(keys) {
		t.Errorf("len = %d after the run", x.len())
	}
}
