package robustness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Fault is one kind of trouble a scenario injects under traffic. Run
// injects it, keeps it for a while and heals it (restarting what it
// stopped); it returns once the cluster may recover. An error means the
// fault could not be carried out as intended (not that the cluster
// misbehaved; the checks decide that).
type Fault struct {
	Name string
	// Env is added to every node's configuration for the scenario (e.g.
	// frequent snapshots).
	Env []string
	// Preload is how many bytes of filler keys are written before the
	// traffic starts (big snapshots for the snapshot-restore failpoint).
	Preload int
	Run     func(ctx context.Context, e *FaultEnv) error
}

// FaultEnv is what a fault acts on.
type FaultEnv struct {
	C    *Cluster
	Logf func(format string, args ...any)
	// Notes go into the report (what the fault did: which node, when).
	Notes []string
}

func (e *FaultEnv) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.Notes = append(e.Notes, msg)
	e.Logf("%s", msg)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func ids(nodes []*Node) []uint64 {
	out := make([]uint64, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

// pick returns the leader, or a follower.
func pick(e *FaultEnv, leader bool) *Node {
	if leader {
		return e.C.Leader()
	}
	return e.C.Follower()
}

func role(leader bool) string {
	if leader {
		return "leader"
	}
	return "follower"
}

// KillFault SIGKILLs the leader or a follower and restarts it a second
// later.
func KillFault(leader bool) Fault {
	return Fault{Name: "kill-" + role(leader), Run: func(ctx context.Context, e *FaultEnv) error {
		n := pick(e, leader)
		e.note("SIGKILL %s %d", role(leader), n.ID)
		e.C.Kill(n)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		e.note("restart node %d", n.ID)
		return e.C.StartErr(n)
	}}
}

// NetFault gives every link between the leader (or a follower) and the
// others the fault f for d, then heals.
func NetFault(name string, leader bool, f LinkFault, d time.Duration) Fault {
	return Fault{Name: name + "-" + role(leader), Run: func(ctx context.Context, e *FaultEnv) error {
		n := pick(e, leader)
		e.note("%s around %s %d for %s", f.Kind, role(leader), n.ID, d)
		e.C.Net.Isolate(n.ID, ids(e.C.Nodes()), f)
		defer e.C.Net.HealAll()
		return sleep(ctx, d)
	}}
}

// AllLinksFault gives every link the fault f for d.
func AllLinksFault(name string, f LinkFault, d time.Duration) Fault {
	return Fault{Name: name, Run: func(ctx context.Context, e *FaultEnv) error {
		nodes := e.C.Nodes()
		e.note("%s on every link for %s (delay %s ± %s, drop %.0f%%)", f.Kind, d, f.Delay, f.Jitter, f.DropRate*100)
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b {
					e.C.Net.Set(a.ID, b.ID, f)
				}
			}
		}
		defer e.C.Net.HealAll()
		return sleep(ctx, d)
	}}
}

// TransferFault moves leadership under load, count times, a second apart.
func TransferFault(count int) Fault {
	return Fault{Name: "transfer-leader", Run: func(ctx context.Context, e *FaultEnv) error {
		for i := 0; i < count; i++ {
			lead := e.C.Leader()
			var others []*Node
			for _, n := range e.C.Running() {
				if n != lead {
					others = append(others, n)
				}
			}
			to := others[rand.IntN(len(others))]
			e.note("transfer leadership %d -> %d", lead.ID, to.ID)
			tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := e.C.TransferLeader(tctx, lead, to)
			cancel()
			if err != nil {
				return fmt.Errorf("transfer %d -> %d: %w", lead.ID, to.ID, err)
			}
			if err := sleep(ctx, time.Second); err != nil {
				return err
			}
		}
		return nil
	}}
}

// MemberReplaceFault removes a follower, retires it (data deleted) and
// adds it back under the same id with an empty data directory.
func MemberReplaceFault() Fault {
	return Fault{Name: "member-replace", Run: func(ctx context.Context, e *FaultEnv) error {
		n := e.C.Follower()
		e.note("remove member %d", n.ID)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := e.C.RemoveMember(rctx, n); err != nil {
			return fmt.Errorf("remove %d: %w", n.ID, err)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		e.note("add member %d back with an empty data dir", n.ID)
		actx, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel2()
		if _, err := e.C.AddMember(actx, n.ID); err != nil {
			return fmt.Errorf("re-add %d: %w", n.ID, err)
		}
		e.note("node %d is a voter again", n.ID)
		return nil
	}}
}

// snapshotEnv makes snapshots frequent, so a follower kept behind for a
// few seconds of traffic needs one.
var snapshotEnv = []string{"TRELLIS_RAFT_SNAPSHOT_COUNT=200", "TRELLIS_RAFT_SNAPSHOT_CATCHUP_ENTRIES=50"}

// behindBy is how far (in revisions) a blackholed follower must fall
// behind the leader before it is let back: well past snapshot count plus
// catch-up entries, so the leader no longer has the entries it needs.
const behindBy = 600

// SnapshotFault blackholes a follower until it is far behind, heals, and
// waits until it has installed a snapshot from the leader. With failpoint
// set, the follower runs with that failpoint armed (e.g.
// raftBeforeSnapshotRestore=kill): it must die while installing, and is
// restarted without it. preload bytes of filler make the snapshot big
// (many reads of the file, several of the loader's write batches).
func SnapshotFault(failpoint string, preload int) Fault {
	name := "snapshot-catch-up"
	if failpoint != "" {
		name = "snapshot-" + failpointName(failpoint)
	}
	return Fault{Name: name, Env: snapshotEnv, Preload: preload, Run: func(ctx context.Context, e *FaultEnv) error {
		n := e.C.Follower()
		if failpoint != "" {
			e.note("restart follower %d with %s", n.ID, failpoint)
			e.C.Stop(n)
			n.Env = []string{"TRELLIS_FAILPOINTS=" + failpoint}
			if err := e.C.StartErr(n); err != nil {
				return err
			}
			defer func() { n.Env = nil }()
			// Isolated before it has caught up, it could not even
			// check the harness's session.
			if err := e.C.HealthCheck(time.Minute); err != nil {
				return err
			}
		}
		e.note("blackhole follower %d until it is %d revisions behind", n.ID, behindBy)
		e.C.Net.Isolate(n.ID, ids(e.C.Nodes()), LinkFault{Kind: Blackhole})
		var others []*Node
		for _, o := range e.C.Running() {
			if o != n {
				others = append(others, o)
			}
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var lr, fr int64
			var err1, err2 error
			lead, why := e.C.leaderOf(others)
			if lead == nil {
				err1 = errors.New(why)
			} else {
				lr, err1 = e.C.revision(ctx, lead)
			}
			fr, err2 = e.C.revision(ctx, n)
			if err1 == nil && err2 == nil && lr-fr > behindBy {
				e.note("leader %d at %d, follower %d at %d", lead.ID, lr, n.ID, fr)
				break
			}
			if time.Now().After(deadline) {
				e.C.Net.HealAll()
				return fmt.Errorf("follower %d never fell %d behind (leader at %d: %v, follower at %d: %v)", n.ID, behindBy, lr, err1, fr, err2)
			}
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
		e.C.Net.HealAll()
		e.note("healed")
		if failpoint != "" {
			if !e.C.WaitExit(n, time.Minute) {
				return fmt.Errorf("failpoint %s never fired on node %d", failpoint, n.ID)
			}
			if !e.C.diedAt(n, failpointName(failpoint)) {
				return fmt.Errorf("node %d exited (%v), but not at failpoint %s\n%s", n.ID, n.ExitErr(), failpoint, e.C.LogTail(n, 3000))
			}
			e.note("node %d died at the failpoint (%v); restart without it", n.ID, n.ExitErr())
			n.Env = nil
			if err := e.C.StartErr(n); err != nil {
				return err
			}
		}
		for !e.C.LogContains(n, "snapshot installed") && !e.C.LogContains(n, "state machine behind raft snapshot, restoring") {
			if time.Now().After(deadline) {
				return fmt.Errorf("follower %d never installed a snapshot", n.ID)
			}
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
		e.note("follower %d installed a snapshot", n.ID)
		return nil
	}}
}

// diedAt reports whether n's last process was killed by the failpoint
// point (which logs that it kills the process).
func (c *Cluster) diedAt(n *Node, point string) bool {
	return !n.Running() && strings.Contains(c.LogTail(n, 4096), "failpoint "+point+": killing the process")
}

// revision is n's applied revision. ?stale lets the session check use
// the node's cache, so a node cut off from the leader answers too.
func (c *Cluster) revision(ctx context.Context, n *Node) (int64, error) {
	var v revisionView
	err := c.Do(ctx, n, http.MethodGet, "/api/ops/compact/revision?stale", nil, &v)
	return v.Revision, err
}

func failpointName(spec string) string {
	name, _, _ := splitOnce(spec, '=')
	return name
}

func splitOnce(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// FailpointFault restarts the leader (or a follower) with a failpoint
// armed to kill it at a random hit between 50 and 300, gives it back the
// leadership when it led, waits for the failpoint to fire and restarts it
// without.
func FailpointFault(point string, leader bool) Fault {
	return Fault{Name: "failpoint-" + point + "-" + role(leader), Run: func(ctx context.Context, e *FaultEnv) error {
		n := pick(e, leader)
		spec := fmt.Sprintf("%s=kill@%d", point, 50+rand.IntN(250))
		e.note("restart %s %d with %s", role(leader), n.ID, spec)
		e.C.Stop(n)
		n.Env = []string{"TRELLIS_FAILPOINTS=" + spec}
		defer func() { n.Env = nil }()
		if err := e.C.StartErr(n); err != nil {
			if n.Running() || !e.C.diedAt(n, point) {
				return fmt.Errorf("%w\n%s", err, e.C.LogTail(n, 3000))
			}
			e.note("node %d died at the failpoint while starting", n.ID)
		}
		if leader && n.Running() {
			for attempt := 0; attempt < 20 && n.Running(); attempt++ {
				tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				lead, err := e.C.waitLeader(10 * time.Second)
				if err == nil && lead == n {
					cancel()
					break
				}
				if err == nil {
					err = e.C.TransferLeader(tctx, lead, n)
				}
				cancel()
				if err == nil {
					e.note("node %d leads again", n.ID)
					break
				}
				sleep(ctx, 250*time.Millisecond)
			}
		}
		if !e.C.WaitExit(n, time.Minute) {
			return fmt.Errorf("failpoint %s never fired on node %d", spec, n.ID)
		}
		if !e.C.diedAt(n, point) {
			return fmt.Errorf("node %d exited (%v), but not at failpoint %s\n%s", n.ID, n.ExitErr(), point, e.C.LogTail(n, 3000))
		}
		e.note("node %d died at the failpoint (%v); restart without it", n.ID, n.ExitErr())
		n.Env = nil
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		return e.C.StartErr(n)
	}}
}
