package cluster

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// writeN writes n keys through p and returns what was acknowledged.
func writeN(t *testing.T, p *proc, prefix string, n int, acked map[string]string) {
	t.Helper()
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("%s%04d", prefix, i), fmt.Sprintf("v%d-%d", p.id, i)
		if _, err := put(p, k, v); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}
}

func waitCaughtUp(t *testing.T, c *procCluster, ref *proc) {
	t.Helper()
	want := revision(ref)
	eventually(t, 30*time.Second, "every node to reach the leader's revision", func() bool {
		for _, p := range c.running() {
			if revision(p) < want {
				return false
			}
		}
		return true
	})
}

func TestProcWriteOnFollowerReadOnAnother(t *testing.T) {
	c := newProcCluster(t, 3)
	lead := c.waitLeader()
	f := c.follower()
	var other *proc
	for _, p := range c.running() {
		if p.id != lead && p.id != f {
			other = p
		}
	}
	for i := 0; i < 20; i++ {
		v := fmt.Sprint(i)
		if _, err := put(c.procs[f], "k", v); err != nil {
			t.Fatal(err)
		}
		got, _, err := get(other, "k", false)
		if err != nil || got != v {
			t.Fatalf("linearizable read on node %d after write %q on node %d: %q %v", other.id, v, f, got, err)
		}
	}
}

func TestProcSIGKILLLeaderLosesNoAcknowledgedWrite(t *testing.T) {
	c := newProcCluster(t, 3)
	acked := map[string]string{}
	old := c.waitLeader()
	writeN(t, c.procs[c.follower()], "before/", 50, acked)
	c.kill(old)
	lead := c.waitLeader()
	if lead == old {
		t.Fatalf("killed leader %d still named leader", old)
	}
	writeN(t, c.procs[lead], "after/", 50, acked)
	c.start(c.procs[old])
	waitCaughtUp(t, c, c.procs[lead])
	c.checkAll(acked)
}

func TestProcNoQuorumIs503(t *testing.T) {
	c := newProcCluster(t, 3)
	c.waitLeader()
	f := c.follower()
	for _, p := range c.running() {
		if p.id != f {
			c.kill(p.id)
		}
	}
	status, err := put(c.procs[f], "k", "v")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("put without quorum: status %d, %v", status, err)
	}
	_, status, err = get(c.procs[f], "k", false)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("linearizable get without quorum: status %d, %v", status, err)
	}
	resp, err := client.Get("http://" + c.procs[f].httpAddr + "/health/cluster")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/health/cluster without quorum: %d", resp.StatusCode)
	}
}

func TestProcJoinCatchesUpBySnapshotThenRemove(t *testing.T) {
	c := newProcCluster(t, 3, "TRELLIS_RAFT_SNAPSHOT_COUNT=100", "TRELLIS_RAFT_SNAPSHOT_CATCHUP_ENTRIES=20")
	lead := c.waitLeader()
	acked := map[string]string{}
	writeN(t, c.procs[lead], "k/", 400, acked)

	// Node 4 binds every interface and advertises its loopback addresses
	// (as behind NAT or in a container): the join must carry those.
	p := c.newProc(4)
	p.args = []string{"--node-id", "4", "--data-dir", p.dataDir,
		"--http-addr", bindAll(p.httpAddr), "--http-advertise-addr", p.httpAddr,
		"--raft-addr", bindAll(p.raftAddr), "--raft-advertise-addr", p.raftAddr,
		"--join", c.procs[lead].httpAddr}
	c.start(p)
	waitCaughtUp(t, c, c.procs[lead])
	c.checkAll(acked)
	eventually(t, 30*time.Second, "node 4 promoted to voter", func() bool {
		v, err := members(c.procs[lead])
		if err != nil {
			return false
		}
		for _, m := range v.Members {
			if m.ID == 4 {
				return !m.Learner && m.HTTPAddr == p.httpAddr && m.PeerAddr == p.raftAddr
			}
		}
		return false
	})
	// The leader's log was compacted long before node 4 existed, so it can
	// only have caught up from a streamed snapshot, which it keeps on disk.
	if snaps, _ := filepathGlob(p.dataDir); len(snaps) == 0 {
		t.Fatal("node 4 caught up without receiving a snapshot")
	}

	req, _ := http.NewRequest(http.MethodDelete, "http://"+c.procs[lead].httpAddr+"/raft/members/4", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("remove member 4: %s", resp.Status)
	}
	v, _ := members(c.procs[lead])
	if len(v.Members) != 3 {
		t.Fatalf("members after remove: %+v", v)
	}
	c.kill(4)
	writeN(t, c.procs[c.waitLeader()], "after-remove/", 10, acked)
}

func TestProcTransferLeadership(t *testing.T) {
	c := newProcCluster(t, 3)
	lead := c.waitLeader()
	to := c.follower()
	resp, err := client.Post(fmt.Sprintf("http://%s/raft/transfer-leader?to=%d", c.procs[lead].httpAddr, to), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("transfer: %s", resp.Status)
	}
	if got := c.waitLeader(); got != to {
		t.Fatalf("leader after transfer is %d, want %d", got, to)
	}
}

func TestProcFullRestartAndGracefulStop(t *testing.T) {
	c := newProcCluster(t, 3, "TRELLIS_RAFT_SNAPSHOT_COUNT=50")
	acked := map[string]string{}
	writeN(t, c.procs[c.waitLeader()], "k/", 120, acked)
	for id := range c.procs {
		if err := c.term(id); err != nil {
			t.Fatalf("node %d: SIGTERM did not exit 0: %v\n%s", id, err, c.log(c.procs[id]))
		}
	}
	for _, p := range c.procs {
		c.start(p)
	}
	lead := c.waitLeader()
	waitCaughtUp(t, c, c.procs[lead])
	c.checkAll(acked)
}

// TestProcCrashLoopUnderLoad kills a single node with SIGKILL while a writer
// is running, several times; every acknowledged write must survive.
func TestProcCrashLoopUnderLoad(t *testing.T) {
	c := newProcCluster(t, 1)
	p := c.procs[1]
	acked := map[string]string{}
	for round := 0; round < 5; round++ {
		stop := make(chan struct{})
		done := make(chan map[string]string)
		go func() {
			mine := map[string]string{}
			for i := 0; ; i++ {
				select {
				case <-stop:
					done <- mine
					return
				default:
				}
				k, v := fmt.Sprintf("r%d/%05d", round, i), fmt.Sprint(i)
				if _, err := put(p, k, v); err == nil {
					mine[k] = v
				}
			}
		}()
		time.Sleep(300 * time.Millisecond)
		c.kill(1)
		close(stop)
		for k, v := range <-done {
			acked[k] = v
		}
		c.start(p)
		c.waitLeader()
		c.checkAll(acked)
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	t.Logf("%d acknowledged writes survived 5 SIGKILLs", len(acked))
}

// TestProcMembersAgree: every node holds the same member table, and each
// member's name and HTTP address reach every node through raft.
func TestProcMembersAgree(t *testing.T) {
	c := newProcCluster(t, 3)
	c.waitLeader()
	eventually(t, 15*time.Second, "identical, complete member tables", func() bool {
		var first string
		for _, p := range c.running() {
			v, err := members(p)
			if err != nil || len(v.Members) != 3 {
				return false
			}
			for _, m := range v.Members {
				if m.HTTPAddr != c.procs[m.ID].httpAddr {
					return false
				}
			}
			got := fmt.Sprint(v.Members)
			if first != "" && got != first {
				return false
			}
			first = got
		}
		return true
	})
}

// bindAll is addr's port on every interface.
func bindAll(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort("0.0.0.0", port)
}
