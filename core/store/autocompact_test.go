package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

func TestRevSamplesTarget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s revSamples
	for i := range 10 {
		s.add(t0.Add(time.Duration(i)*time.Second), int64(10*(i+1)))
	}
	if _, ok := s.target(t0.Add(4*time.Second), 5*time.Second); ok {
		t.Fatal("a target before any sample is old enough")
	}
	// At t0+9s with 5s of retention, the newest sample at or before t0+4s.
	if rev, ok := s.target(t0.Add(9*time.Second), 5*time.Second); !ok || rev != 50 {
		t.Fatalf("target = %d, %v; want 50", rev, ok)
	}
	if len(s) != 6 || s[0].rev != 50 {
		t.Fatalf("after target, samples start at %d (%d left); want 50 with 6 left", s[0].rev, len(s))
	}
	// Asking again later moves on; the kept sample answers until then.
	if rev, ok := s.target(t0.Add(9*time.Second), 5*time.Second); !ok || rev != 50 {
		t.Fatalf("same target again = %d, %v; want 50", rev, ok)
	}
	if rev, ok := s.target(t0.Add(20*time.Second), 5*time.Second); !ok || rev != 100 {
		t.Fatalf("target long after the last sample = %d, %v; want 100", rev, ok)
	}
	if len(s) != 1 {
		t.Fatalf("%d samples left, want the one answering", len(s))
	}
}

func TestAutoCompactionEvery(t *testing.T) {
	for _, tc := range []struct {
		ac   AutoCompaction
		want time.Duration
	}{
		{AutoCompaction{Retention: time.Hour}, 6 * time.Minute},
		{AutoCompaction{Retention: 100 * time.Hour}, time.Hour},
		{AutoCompaction{Retention: 200 * time.Millisecond}, 100 * time.Millisecond},
		{AutoCompaction{Revisions: 1000}, 5 * time.Minute},
		{AutoCompaction{Revisions: 1000, Interval: time.Second}, time.Second},
	} {
		if got := tc.ac.every(); got != tc.want {
			t.Errorf("%+v: every %s, want %s", tc.ac, got, tc.want)
		}
	}
	if (AutoCompaction{}).enabled() {
		t.Error("the zero AutoCompaction is enabled")
	}
}

// TestAutoCompactionRevisionMode: the leader keeps the newest Revisions
// revisions, and an idle store is left alone (its own compaction entries
// are revisions too, and must not start another round).
func TestAutoCompactionRevisionMode(t *testing.T) {
	s := openSingleWith(t, "", func(o *Options) {
		o.AutoCompaction = AutoCompaction{Revisions: 10, Interval: 20 * time.Millisecond}
	})
	defer s.Close()
	n := ns(t, s, "kv")
	var revs []int64
	for i := range 30 {
		revs = append(revs, mustPut(t, n, "k", fmt.Sprint(i)).Revision)
	}
	last := revs[len(revs)-1]
	// The last round saw the last put, or a compaction entry after it.
	testutil.Eventually(t, 10*time.Second, "compacted to 10 below the newest write", func() bool {
		return s.CompactedRevision() >= last-10
	})
	idle, compacted := s.Revision(), s.CompactedRevision()
	if compacted > last-9 {
		t.Fatalf("compacted to %d, keeping fewer than 10 revisions below %d", compacted, last)
	}
	time.Sleep(300 * time.Millisecond)
	if s.Revision() != idle || s.CompactedRevision() != compacted {
		t.Fatalf("idle store moved from revision %d to %d, compacted %d to %d", idle, s.Revision(), compacted, s.CompactedRevision())
	}
	if _, err := n.Get(ctx(t), "k", ReadOptions{Revision: revs[0]}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("read at the first revision: %v, want ErrCompacted", err)
	}
	want := 0 // the put a read at last-9 sees: a compaction entry may sit between puts
	for i, r := range revs {
		if r <= last-9 {
			want = i
		}
	}
	if kv := mustGet(t, n, "k", ReadOptions{Revision: last - 9}); string(kv.Value) != fmt.Sprint(want) {
		t.Fatalf("read at revision %d = %q, want %d", last-9, kv.Value, want)
	}
}

// TestAutoCompactionPeriodic: under a steady write load the leader
// compacts, and every revision written within the last Retention stays
// readable.
func TestAutoCompactionPeriodic(t *testing.T) {
	const retention = 600 * time.Millisecond
	s := openSingleWith(t, "", func(o *Options) {
		o.AutoCompaction = AutoCompaction{Retention: retention}
	})
	defer s.Close()
	n := ns(t, s, "kv")
	type write struct {
		started time.Time
		rev     int64
	}
	var writes []write
	put := func() {
		started := time.Now()
		writes = append(writes, write{started, mustPut(t, n, "k", started.String()).Revision})
		time.Sleep(10 * time.Millisecond)
	}
	put()
	deadline := time.Now().Add(20 * time.Second)
	for s.CompactedRevision() <= writes[0].rev && time.Now().Before(deadline) {
		put()
	}
	for range 50 {
		put()
	}
	compacted, now := s.CompactedRevision(), time.Now()
	if compacted <= writes[0].rev {
		t.Fatalf("compacted to %d, not past the first write at %d, in 20s with %s of retention", compacted, writes[0].rev, retention)
	}
	// A write that started within the last retention has a revision above
	// the one current retention ago, so the compaction cannot reach it.
	for _, w := range writes {
		if now.Sub(w.started) >= retention {
			continue
		}
		if _, err := n.Get(ctx(t), "k", ReadOptions{Revision: w.rev}); err != nil {
			t.Fatalf("revision %d, written %s ago (retention %s), compacted at %d: %v", w.rev, now.Sub(w.started), retention, compacted, err)
		}
	}
	// Once the writes stop, the compactions reach the last one and stop
	// too: a compaction entry is a revision, and must not be one more
	// thing to compact.
	testutil.Eventually(t, 10*time.Second, "an idle store stops compacting", func() bool {
		rev := s.Revision()
		time.Sleep(4 * AutoCompaction{Retention: retention}.every())
		return s.Revision() == rev
	})
	if c, last := s.CompactedRevision(), writes[len(writes)-1].rev; c != last {
		t.Fatalf("idle store compacted to %d, want the last write's revision %d", c, last)
	}
}

// TestAutoCompactionCluster: on three members the compaction the leader
// proposes reaches every member, and after a leader change the new
// leader, which sampled the same history, carries on.
func TestAutoCompactionCluster(t *testing.T) {
	c := newTestCluster(t, 3, 0, func(o *Options) {
		o.AutoCompaction = AutoCompaction{Revisions: 5, Interval: 20 * time.Millisecond}
	})
	lead := c.waitLeader()
	var last int64
	for i := range 20 {
		last = mustPut(t, c.ns(lead), "k", fmt.Sprint(i)).Revision
	}
	everyMember := func(what string, ok func(*Store) bool) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, what, func() bool {
			for _, s := range c.stores {
				if !ok(s) {
					return false
				}
			}
			return true
		})
	}
	everyMember("every member compacted to 5 below the last write", func(s *Store) bool {
		return s.CompactedRevision() >= last-5
	})
	c.stop(lead)
	next := c.waitLeader()
	for i := range 20 {
		last = mustPut(t, c.ns(next), "k", fmt.Sprint(i)).Revision
	}
	everyMember("the new leader compacts too", func(s *Store) bool {
		return s.CompactedRevision() >= last-5
	})
}

// TestAutoCompactionPausedByCorrupt: no automatic compaction while a
// CORRUPT alarm is raised; it resumes once the alarm is disarmed.
func TestAutoCompactionPausedByCorrupt(t *testing.T) {
	s := openSingleWith(t, "", func(o *Options) {
		o.AutoCompaction = AutoCompaction{Revisions: 5, Interval: 20 * time.Millisecond}
	})
	defer s.Close()
	corrupt := Alarm{MemberID: s.Raft().ID(), Type: AlarmCorrupt}
	if err := s.RaiseAlarm(ctx(t), corrupt); err != nil {
		t.Fatal(err)
	}
	// Module writes are refused under CORRUPT; a system namespace's (a
	// name with a dot, like the audit log's) are not.
	n := ns(t, s, "t.sys")
	for i := range 20 {
		mustPut(t, n, "k", fmt.Sprint(i))
	}
	time.Sleep(300 * time.Millisecond)
	if c := s.CompactedRevision(); c != 0 {
		t.Fatalf("compacted to %d under a CORRUPT alarm", c)
	}
	if err := s.DisarmAlarm(ctx(t), corrupt); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "compaction resumes after the disarm", func() bool {
		return s.CompactedRevision() > 0
	})
}
