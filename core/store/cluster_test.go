package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// testCluster is several nodes in this process with real TCP transports and
// real Badger directories.
type testCluster struct {
	t      *testing.T
	dirs   map[uint64]string
	addrs  map[uint64]string
	stores map[uint64]*Store
	snap   uint64
	set    func(*Options) // adjusts every node's options, when set
}

func newTestCluster(t *testing.T, size int, snapshotCount uint64, set ...func(*Options)) *testCluster {
	c := &testCluster{t: t, dirs: map[uint64]string{}, addrs: map[uint64]string{}, stores: map[uint64]*Store{}, snap: snapshotCount}
	if len(set) > 0 {
		c.set = set[0]
	}
	for id := uint64(1); id <= uint64(size); id++ {
		c.dirs[id] = t.TempDir()
		c.addrs[id] = testutil.FreeAddr(t)
	}
	for id := range c.addrs {
		c.start(id, false, nil)
	}
	t.Cleanup(c.closeAll)
	c.waitLeader()
	return c
}

func (c *testCluster) start(id uint64, join bool, members []raft.Member) {
	c.t.Helper()
	rc := raftConfig(id, c.addrs[id], nil)
	if !join {
		rc.InitialCluster = map[uint64]string{}
		for i, a := range c.addrs {
			if i <= 3 {
				rc.InitialCluster[i] = a
			}
		}
	}
	rc.Join, rc.JoinMembers = join, members
	if c.snap > 0 {
		rc.SnapshotCount, rc.SnapshotCatchupEntries = c.snap, c.snap/5
	}
	opts := Options{DataDir: c.dirs[id], Raft: rc, Logger: testLogger().With("node", id), TTLInterval: 50 * time.Millisecond}
	if c.set != nil {
		c.set(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
	c.stores[id] = s
}

func (c *testCluster) stop(id uint64) {
	if s := c.stores[id]; s != nil {
		s.Close()
		delete(c.stores, id)
	}
}

func (c *testCluster) closeAll() {
	for id := range c.stores {
		c.stop(id)
	}
}

func (c *testCluster) waitLeader() uint64 {
	c.t.Helper()
	var lead uint64
	testutil.Eventually(c.t, 15*time.Second, "all running nodes agree on a leader", func() bool {
		lead = 0
		for _, s := range c.stores {
			l := s.Raft().Leader()
			if l == 0 || (lead != 0 && l != lead) {
				return false
			}
			lead = l
		}
		_, running := c.stores[lead]
		return running
	})
	return lead
}

func (c *testCluster) follower() uint64 {
	lead := c.waitLeader()
	for id := range c.stores {
		if id != lead {
			return id
		}
	}
	c.t.Fatal("no follower")
	return 0
}

func (c *testCluster) ns(id uint64) *Namespace { return ns(c.t, c.stores[id], "kv") }

func TestClusterWriteOnFollowerReadOnAnother(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	lead := c.waitLeader()
	f := c.follower()
	var other uint64
	for id := range c.stores {
		if id != lead && id != f {
			other = id
		}
	}
	for i := 0; i < 20; i++ {
		r := mustPut(t, c.ns(f), "key", fmt.Sprint(i))
		// Linearizable: a read anywhere right after the ack sees the write.
		got := mustGet(t, c.ns(other), "key", ReadOptions{})
		if string(got.Value) != fmt.Sprint(i) || got.ModRevision != r.Revision {
			t.Fatalf("read on node %d after write %d on node %d: %+v", other, i, f, got)
		}
	}
}

func TestClusterLeaderLossAndRestart(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	old := c.waitLeader()
	f := c.follower()
	mustPut(t, c.ns(f), "before", "1")
	c.stop(old)
	newLead := c.waitLeader()
	if newLead == old {
		t.Fatalf("stopped leader %d still leads", old)
	}
	for i := 0; i < 10; i++ {
		mustPut(t, c.ns(newLead), fmt.Sprintf("after/%d", i), "x")
	}
	c.start(old, false, nil)
	rev := c.stores[newLead].Revision()
	testutil.Eventually(t, 10*time.Second, "old leader to catch up", func() bool {
		return c.stores[old].Revision() >= rev
	})
	list, err := c.ns(old).List(ctx(t), "after/", ListOptions{Serializable: true})
	if err != nil || len(list.KVs) != 10 {
		t.Fatalf("old leader after restart: %v, %d keys", err, len(list.KVs))
	}
}

func TestClusterJoinCatchesUpBySnapshot(t *testing.T) {
	c := newTestCluster(t, 3, 50)
	lead := c.waitLeader()
	for i := 0; i < 300; i++ {
		mustPut(t, c.ns(lead), fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	first, _ := c.stores[lead].log.Storage().FirstIndex()
	if first <= 1 {
		t.Fatalf("leader log not compacted: first index %d", first)
	}
	id := uint64(4)
	c.dirs[id], c.addrs[id] = t.TempDir(), testutil.FreeAddr(t)
	members, err := c.stores[lead].Raft().AddMember(ctx(t), raft.Member{ID: id, PeerAddr: c.addrs[id], Name: "node-4"})
	if err != nil {
		t.Fatal(err)
	}
	c.start(id, true, members)
	rev := c.stores[lead].Revision()
	testutil.Eventually(t, 15*time.Second, "joined node to catch up", func() bool {
		return c.stores[id].Revision() >= rev
	})
	if c.stores[id].sm.readFloor.Load() == 0 {
		t.Fatal("joined node caught up without a snapshot")
	}
	// The change log came with the snapshot: a watch from the start of
	// history works on the new node too.
	wctx, cancel := contextWithCancel(t)
	ch, err := c.ns(id).Watch(wctx, "k", 1)
	if err != nil {
		t.Fatalf("watch from revision 1 on the snapshot-restored node: %v", err)
	}
	seen := 0
	for seen < 300 {
		r := <-ch
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		seen += len(r.Events)
	}
	cancel()
	// Reads below the snapshot are refused there: it holds no older versions.
	if _, err := c.ns(id).Get(ctx(t), "k000", ReadOptions{Revision: 5, Serializable: true}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("read below the snapshot on the restored node: %v", err)
	}
	list, err := c.ns(id).List(ctx(t), "k", ListOptions{Serializable: true})
	if err != nil || len(list.KVs) != 300 {
		t.Fatalf("joined node has %d keys: %v", len(list.KVs), err)
	}
	testutil.Eventually(t, 10*time.Second, "learner promoted to voter", func() bool {
		for _, m := range c.stores[lead].Raft().Members() {
			if m.ID == id {
				return !m.Learner
			}
		}
		return false
	})
	// An overwrite applied on the restored node computes the same version
	// and revisions as everywhere else (its key index came from the
	// snapshot).
	mustPut(t, c.ns(lead), "k007", "again")
	want := mustGet(t, c.ns(lead), "k007", ReadOptions{})
	if got := mustGet(t, c.ns(id), "k007", ReadOptions{}); got.Version != 2 || got.CreateRevision != want.CreateRevision || got.ModRevision != want.ModRevision || string(got.Value) != "again" {
		t.Fatalf("k007 on the restored node %+v, on the leader %+v", got, want)
	}
	// The new voter serves linearizable reads of new writes.
	mustPut(t, c.ns(lead), "fresh", "y")
	if got := mustGet(t, c.ns(id), "fresh", ReadOptions{}); string(got.Value) != "y" {
		t.Fatalf("fresh on node 4: %+v", got)
	}
}

func TestClusterTransferAndRemove(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	lead := c.waitLeader()
	to := c.follower()
	if err := c.stores[lead].Raft().TransferLeadership(ctx(t), to); err != nil {
		t.Fatal(err)
	}
	if got := c.waitLeader(); got != to {
		t.Fatalf("leader after transfer: %d, want %d", got, to)
	}
	// Remove the (new) leader through another node: leadership moves first.
	var via uint64
	for id := range c.stores {
		if id != to {
			via = id
		}
	}
	if err := c.stores[via].Raft().RemoveMember(ctx(t), to); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "removed node to know it", func() bool { return c.stores[to].Raft().Removed() })
	c.stop(to)
	lead = c.waitLeader()
	if len(c.stores[lead].Raft().Members()) != 2 {
		t.Fatalf("members after remove: %+v", c.stores[lead].Raft().Members())
	}
	mustPut(t, c.ns(lead), "still", "writable")
	if err := c.stores[lead].Raft().RemoveMember(ctx(t), 99); !errors.Is(err, raft.ErrUnknownMember) {
		t.Fatalf("remove unknown: %v", err)
	}
}

func TestClusterNoQuorumFails(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	lead := c.waitLeader()
	f := c.follower()
	for id := range c.stores {
		if id != f {
			c.stop(id)
		}
	}
	_ = lead
	kv := c.ns(f)
	_, err := kv.Put(ctx(t), "k", []byte("v"), PutOptions{})
	if !raft.IsUnavailable(err) {
		t.Fatalf("put without quorum: %v", err)
	}
	_, err = kv.Get(ctx(t), "k", ReadOptions{})
	if !raft.IsUnavailable(err) {
		t.Fatalf("linearizable get without quorum: %v", err)
	}
	// A serializable read still answers from local state.
	if _, err := kv.Get(ctx(t), "k", ReadOptions{Serializable: true}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("serializable get without quorum: %v", err)
	}
}

func TestClusterFullRestartKeepsData(t *testing.T) {
	c := newTestCluster(t, 3, 40)
	lead := c.waitLeader()
	for i := 0; i < 100; i++ {
		mustPut(t, c.ns(lead), fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	rev := c.stores[lead].Revision()
	c.closeAll()
	for id := range c.addrs {
		c.start(id, false, nil)
	}
	c.waitLeader()
	for id := range c.stores {
		list, err := c.ns(id).List(ctx(t), "k", ListOptions{})
		if err != nil || len(list.KVs) != 100 {
			t.Fatalf("node %d after full restart: %v, %d keys", id, err, len(list.KVs))
		}
		if c.stores[id].Revision() < rev {
			t.Fatalf("node %d revision %d < %d", id, c.stores[id].Revision(), rev)
		}
	}
}

func TestClusterTTLExpirySeenByEveryNode(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	f := c.follower()
	res, err := c.ns(f).Put(ctx(t), "lease", []byte("x"), PutOptions{TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for id := range c.stores {
		if got := mustGet(t, c.ns(id), "lease", ReadOptions{}); got.ModRevision != res.Revision {
			t.Fatalf("node %d before expiry: %+v", id, got)
		}
	}
	// Every node sees the key vanish at the same revision: the expiry is a
	// replicated delete, found in each node's change log.
	expiredAt := map[uint64]int64{}
	testutil.Eventually(t, 10*time.Second, "expiry on every node", func() bool {
		for id := range c.stores {
			if _, err := c.ns(id).Get(ctx(t), "lease", ReadOptions{Serializable: true}); !errors.Is(err, ErrNotFound) {
				return false
			}
		}
		return true
	})
	for id, s := range c.stores {
		kv := ns(t, s, "kv")
		err := kv.s.sm.events("kv", []byte("lease"), res.Revision, s.Revision(), func(ev Event) bool {
			if ev.Type == EventExpire {
				expiredAt[id] = ev.KV.ModRevision
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(expiredAt) != 3 || expiredAt[1] != expiredAt[2] || expiredAt[2] != expiredAt[3] {
		t.Fatalf("expiry revisions per node: %v", expiredAt)
	}
}

// A removed node may come back under the same id with a fresh data dir: it
// replays its own removal from the log but ends up a member again.
func TestClusterRemovedNodeRejoins(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	lead := c.waitLeader()
	var gone uint64
	for id := range c.stores {
		if id != lead {
			gone = id
		}
	}
	if err := c.stores[lead].Raft().RemoveMember(ctx(t), gone); err != nil {
		t.Fatal(err)
	}
	c.stop(gone)
	mustPut(t, c.ns(lead), "while-away", "x")
	c.dirs[gone] = t.TempDir()
	members, err := c.stores[lead].Raft().AddMember(ctx(t), raft.Member{ID: gone, PeerAddr: c.addrs[gone]})
	if err != nil {
		t.Fatal(err)
	}
	c.start(gone, true, members)
	rev := c.stores[lead].Revision()
	testutil.Eventually(t, 15*time.Second, "rejoined node to catch up", func() bool {
		return c.stores[gone].Revision() >= rev
	})
	if c.stores[gone].Raft().Removed() {
		t.Fatal("rejoined node still thinks it is removed")
	}
	if got := mustGet(t, c.ns(gone), "while-away", ReadOptions{Serializable: true}); string(got.Value) != "x" {
		t.Fatalf("rejoined node: %+v", got)
	}
}
