package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// hashAll asks every running member for its hash at rev.
func (c *testCluster) hashAll(rev int64) map[uint64]HashResult {
	c.t.Helper()
	out := map[uint64]HashResult{}
	for id, s := range c.stores {
		h, err := s.HashKV(ctx(c.t), rev)
		if err != nil {
			c.t.Fatalf("hashkv at %d on node %d: %v", rev, id, err)
		}
		if rev != 0 && h.Revision != rev {
			c.t.Fatalf("hashkv at %d on node %d answered revision %d", rev, id, h.Revision)
		}
		out[id] = h
	}
	return out
}

func sameHash(hs map[uint64]HashResult) bool {
	var first *HashResult
	for _, h := range hs {
		if first == nil {
			first = &h
		} else if h.Hash != first.Hash {
			return false
		}
	}
	return true
}

func TestHashKVAgreesAcrossMembersAndSeesCorruption(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	lead := c.waitLeader()
	kv := c.ns(lead)
	for i := 0; i < 50; i++ {
		mustPut(t, kv, fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	mustPut(t, kv, "k00", "again")
	if _, err := kv.Delete(ctx(t), "k01"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx(t), "lease", []byte("x"), PutOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ns(t, c.stores[lead], "core.auth"), "user/admin", "{}")
	rev := c.stores[lead].Revision()
	at := c.hashAll(rev)
	if !sameHash(at) {
		t.Fatalf("hashes at %d differ: %+v", rev, at)
	}

	// Later writes change the newest hash but not the one at rev.
	mustPut(t, kv, "later", "x")
	newest, err := c.stores[lead].HashKV(ctx(t), 0)
	if err != nil || newest.Revision <= rev || newest.Hash == at[lead].Hash {
		t.Fatalf("newest hash %+v (err %v) vs %+v at %d", newest, err, at[lead], rev)
	}
	if again := c.hashAll(rev); again[lead] != at[lead] || !sameHash(again) {
		t.Fatalf("hash at %d changed after later writes: %+v, was %+v", rev, again, at)
	}

	// At the compacted revision hashes still agree; below it, ErrCompacted.
	if err := c.stores[lead].Compact(ctx(t), rev); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "compaction on every member", func() bool {
		for _, s := range c.stores {
			if s.CompactedRevision() != rev {
				return false
			}
		}
		return true
	})
	for id, s := range c.stores {
		if _, err := s.HashKV(ctx(t), rev-1); !errors.Is(err, ErrCompacted) {
			t.Fatalf("node %d: hash below the compacted revision: %v", id, err)
		}
	}
	if after := c.hashAll(rev); !sameHash(after) || after[lead].Hash != at[lead].Hash || after[lead].CompactRevision != rev {
		t.Fatalf("hash at the compacted revision: %+v, was %+v", after, at)
	}

	// A revision nobody has is ErrFutureRevision, at once while the
	// cluster can say so.
	start := time.Now()
	f := c.follower()
	if _, err := c.stores[f].HashKV(ctx(t), c.stores[lead].Revision()+1000); !errors.Is(err, ErrFutureRevision) {
		t.Fatalf("future revision: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("future revision took %s to refuse", d)
	}

	// A record changed behind raft's back: stop a member, copy one record's
	// bytes onto another key at that key's own version, restart it.
	victim := c.follower()
	c.stop(victim)
	corruptRecord(t, filepath.Join(c.dirs[victim], "state"), "kv", "k10", "k11")
	c.start(victim, false, nil)
	c.waitLeader()
	lead = c.waitLeader()
	mustPut(t, c.ns(lead), "after-restart", "x")
	now := c.stores[lead].Revision()
	if got := mustGet(t, c.ns(victim), "k11", ReadOptions{Revision: now}); string(got.Value) != "10" {
		t.Fatalf("the corruption did not take: k11 on node %d is %q", victim, got.Value)
	}
	hs := c.hashAll(now)
	for id, h := range hs {
		if id != victim && h.Hash == hs[victim].Hash {
			t.Fatalf("node %d has the same hash as corrupted node %d: %+v", id, victim, hs)
		}
		if id != victim && h.Hash != hs[lead].Hash {
			t.Fatalf("healthy nodes disagree: %+v", hs)
		}
	}
}

// corruptRecord writes the value of key from's current record into key
// to's current record (its newest change-log event, at the version it
// already has), directly in a stopped member's state store.
func corruptRecord(t *testing.T, dir, ns, from, to string) {
	t.Helper()
	st, err := storage.OpenStateDB(dir, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	txn := st.DB().NewTransactionAt(storage.MaxTs, false)
	// The newest event of each key: its current record.
	newest := map[string][]byte{}
	records := map[string][]byte{}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: nsPrefix(tagEvent, ns)})
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, k, _, err := decodeEventRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		newest[string(k)] = it.Item().KeyCopy(nil)
		records[string(k)] = v
	}
	it.Close()
	txn.Discard()
	_, _, src, err := decodeEventRecord(records[from])
	if err != nil {
		t.Fatal(err)
	}
	typ, k, dst, err := decodeEventRecord(records[to])
	if err != nil {
		t.Fatal(err)
	}
	dst.value = src.value
	_, r, err := splitEventKey(newest[to])
	if err != nil {
		t.Fatal(err)
	}
	wb := st.DB().NewManagedWriteBatch()
	if err := wb.SetEntryAt(badger.NewEntry(newest[to], encodeEvent(typ, k, &dst)), uint64(r.main)); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

// Without a quorum, a revision this member has not applied is
// ErrFutureRevision after a bounded wait (or when the caller's context
// ends); a cancelled context is reported as such.
func TestHashKVFutureWithoutQuorum(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	f := c.follower()
	for id := range c.stores {
		if id != f {
			c.stop(id)
		}
	}
	s := c.stores[f]
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := s.HashKV(short, s.Revision()+1); !errors.Is(err, ErrFutureRevision) {
		t.Fatalf("future revision without quorum: %v", err)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.HashKV(cancelled, s.Revision()+1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	// The applied revision is hashed from local state, no quorum needed.
	if h, err := s.HashKV(ctx(t), 0); err != nil || h.Revision != s.Revision() {
		t.Fatalf("local hash without quorum: %+v, %v", h, err)
	}
}
