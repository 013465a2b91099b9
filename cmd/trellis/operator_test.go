package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// opCluster is a cluster of real nodes in this process, with every module
// the binary compiles in, for the operator and member commands.
type opCluster struct {
	t     *testing.T
	nodes []*node.Node
	cfgs  []*config.Config
}

// startOpCluster starts size nodes with the admin password `trellis
// login` in these tests uses, and joinToken as raft.join_token.
func startOpCluster(t *testing.T, size int, joinToken string) *opCluster {
	t.Helper()
	c := &opCluster{t: t}
	var initial []string
	for id := 1; id <= size; id++ {
		cfg := config.Defaults()
		cfg.Node.ID = uint64(id)
		cfg.Node.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.HTTP.Addr, cfg.Raft.Addr = testutil.FreeAddr(t), testutil.FreeAddr(t)
		cfg.Raft.TickInterval = 50 * time.Millisecond
		cfg.Raft.JoinToken = joinToken
		cfg.HTTP.RateLimit = 0
		cfg.Auth.AdminPassword = kvTestPassword
		c.cfgs = append(c.cfgs, &cfg)
		initial = append(initial, fmt.Sprintf("%d=%s", id, cfg.Raft.Addr))
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	for _, cfg := range c.cfgs {
		cfg.Raft.InitialCluster = strings.Join(initial, ",")
		n := node.New(cfg, logger)
		if err := n.Start(context.Background()); err != nil {
			t.Fatalf("start node %d: %v", cfg.Node.ID, err)
		}
		c.nodes = append(c.nodes, n)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n.Stop(ctx)
		})
	}
	c.eventually("every node knows every member's name and HTTP address", func() bool {
		for _, n := range c.nodes {
			ms := n.Store().Raft().Members()
			if len(ms) != size || n.Store().Raft().Leader() == 0 {
				return false
			}
			for _, m := range ms {
				if m.Name == "" || m.HTTPAddr == "" {
					return false
				}
			}
		}
		return true
	})
	return c
}

func (c *opCluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *opCluster) url(i int) string { return "http://" + c.cfgs[i-1].HTTP.Addr }

func (c *opCluster) raftAddr(i int) string { return c.cfgs[i-1].Raft.Addr }

// leader is the leader node 1 sees.
func (c *opCluster) leader() int { return int(c.nodes[0].Store().Raft().Leader()) }

// waitLeader waits until node 1 sees want lead.
func (c *opCluster) waitLeader(want int) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("node %d leads", want), func() bool { return c.leader() == want })
}

// memberIDs is node 1's member table.
func (c *opCluster) memberIDs() []uint64 {
	var ids []uint64
	for _, m := range c.nodes[0].Store().Raft().Members() {
		ids = append(ids, m.ID)
	}
	return ids
}

// peerRow is one row of list-peers.
var peerRow = regexp.MustCompile(`^(\S+)\s+(\d+)\s+(\S+)\s+(leader|follower)\s+(true|false)\s+3\s+(\d+)\s+(-|\d+ commits?)$`)

// listPeers runs list-peers and returns its rows by ID, checking the
// header and that exactly one server leads (unless stale says otherwise).
func listPeers(t *testing.T, c *cli, args ...string) map[string][]string {
	t.Helper()
	out := c.ok(append([]string{"operator", "raft", "list-peers"}, args...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := regexp.MustCompile(`^Node\s+ID\s+Address\s+State\s+Voter\s+RaftProtocol\s+Commit Index\s+Trails Leader By$`)
	if !header.MatchString(lines[0]) {
		t.Fatalf("list-peers header %q:\n%s", lines[0], out)
	}
	rows := map[string][]string{}
	leaders := 0
	for _, l := range lines[1:] {
		m := peerRow.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("list-peers row %q does not look like Consul's:\n%s", l, out)
		}
		rows[m[2]] = m[1:]
		if m[4] == "leader" {
			leaders++
			if m[7] != "-" {
				t.Fatalf("the leader trails itself: %q", l)
			}
		}
	}
	if leaders != 1 {
		t.Fatalf("list-peers shows %d leaders:\n%s", leaders, out)
	}
	return rows
}

// TestOperatorRaftCommands drives `trellis operator raft` through the real
// binary against a 3-node cluster, logged in with `trellis login`.
func TestOperatorRaftCommands(t *testing.T) {
	oc := startOpCluster(t, 3, "")
	c := newCLI(t, buildBinary(t))
	c.login(oc.url(1))

	rows := listPeers(t, c)
	if len(rows) != 3 {
		t.Fatalf("list-peers: %v", rows)
	}
	for i := 1; i <= 3; i++ {
		r := rows[strconv.Itoa(i)]
		if r == nil || r[0] != fmt.Sprintf("node-%d", i) || r[2] != oc.raftAddr(i) || r[4] != "true" {
			t.Fatalf("list-peers row of node %d: %v", i, r)
		}
		if (r[3] == "leader") != (i == oc.leader()) {
			t.Fatalf("list-peers row of node %d: %v, leader is %d", i, r, oc.leader())
		}
	}
	// Consul's single-dash flags work as well.
	if rows := listPeers(t, c, "-stale"); len(rows) != 3 {
		t.Fatalf("list-peers -stale: %v", rows)
	}

	// Transfers: to a chosen node, then anywhere.
	lead := oc.leader()
	to := lead%3 + 1
	if out := c.ok("operator", "raft", "transfer-leader", "-id", strconv.Itoa(to)); out != "Success\n" {
		t.Fatalf("transfer-leader -id %d printed %q", to, out)
	}
	oc.waitLeader(to)
	if out := c.ok("operator", "raft", "transfer-leader"); out != "Success\n" {
		t.Fatalf("transfer-leader printed %q", out)
	}
	oc.eventually("leadership moves on", func() bool { return oc.leader() != to && oc.leader() != 0 })
	c.fails([]string{"operator", "raft", "transfer-leader", "--id", "9"}, "transfer leadership", "404", `id "9" was not found`)

	// Removals: by address and by id, never node 1 (the CLI's endpoint).
	c.fails([]string{"operator", "raft", "remove-peer"}, "an address or id is required")
	c.fails([]string{"operator", "raft", "remove-peer", "-id", "2", "-address", oc.raftAddr(2)}, "cannot give both")
	c.fails([]string{"operator", "raft", "remove-peer", "-id=9"}, "404", `id "9" was not found`)
	if out := c.ok("operator", "raft", "remove-peer", "-address="+oc.raftAddr(2)); out != fmt.Sprintf("Removed peer with address %q\n", oc.raftAddr(2)) {
		t.Fatalf("remove-peer -address printed %q", out)
	}
	oc.eventually("node 2 is gone", func() bool { return slices.Equal(oc.memberIDs(), []uint64{1, 3}) })
	if rows := listPeers(t, c); len(rows) != 2 || rows["2"] != nil {
		t.Fatalf("list-peers after removing node 2: %v", rows)
	}
	if out := c.ok("operator", "raft", "remove-peer", "--id", "3"); out != "Removed peer with id \"3\"\n" {
		t.Fatalf("remove-peer --id 3 printed %q", out)
	}
	oc.eventually("node 3 is gone", func() bool { return slices.Equal(oc.memberIDs(), []uint64{1}) })
	c.fails([]string{"operator", "raft", "remove-peer", "--id", "1"}, "409", "last voter")
	if rows := listPeers(t, c); len(rows) != 1 || rows["1"][3] != "leader" {
		t.Fatalf("list-peers with one server: %v", rows)
	}

	// Without a session: Consul's API answers 401.
	c.fails([]string{"operator", "raft", "list-peers", "--endpoint", oc.url(1), "--token", "nope"}, "401")
}

// TestMemberCommands drives `trellis member` with an admin session and
// with the join token instead.
func TestMemberCommands(t *testing.T) {
	const joinToken = "cli-test-join-token"
	oc := startOpCluster(t, 3, joinToken)
	bin := buildBinary(t)
	c := newCLI(t, bin)
	c.login(oc.url(1))

	out := c.ok("member", "list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^ID\s+NAME\s+PEER ADDR\s+HTTP ADDR\s+ROLE$`).MatchString(lines[0]) {
		t.Fatalf("member list:\n%s", out)
	}
	for i := 1; i <= 3; i++ {
		role := "follower"
		if i == oc.leader() {
			role = "leader"
		}
		want := regexp.MustCompile(fmt.Sprintf(`^%d\s+node-%d\s+%s\s+%s\s+%s$`, i, i,
			regexp.QuoteMeta(oc.raftAddr(i)), regexp.QuoteMeta(oc.cfgs[i-1].HTTP.Addr), role))
		if !want.MatchString(lines[i]) {
			t.Fatalf("member list row %d %q, want %s", i, lines[i], want)
		}
	}

	// A client without a session but with the join token.
	tokenOnly := newCLI(t, bin)
	ep := []string{"--endpoint", oc.url(2)}
	tokenOnly.fails(append([]string{"member", "list"}, ep...), "401")
	tokenOnly.fails(append([]string{"member", "list", "--join-token", "wrong"}, ep...), "401")
	peer4 := "127.0.0.1:1" // never started: the member stays a learner
	out = tokenOnly.ok(append([]string{"member", "add", "--id", "4", "--name", "extra", "--peer-addr", peer4, "--join-token", joinToken}, ep...)...)
	if out != "added member 4 at 127.0.0.1:1 as a learner (4 members)\n" {
		t.Fatalf("member add printed %q", out)
	}
	tokenOnly.env = append(tokenOnly.env, "TRELLIS_JOIN_TOKEN="+joinToken)
	out = tokenOnly.ok(append([]string{"member", "list"}, ep...)...)
	// A learner; core raft may already have promoted it (it promotes a
	// learner within 16 entries of the commit index, which a never-seen
	// learner is while the log is that short).
	if !regexp.MustCompile(`(?m)^4\s+extra\s+127\.0\.0\.1:1\s+-\s+(learner|follower)$`).MatchString(out) {
		t.Fatalf("member list after add:\n%s", out)
	}
	tokenOnly.fails(append([]string{"member", "add", "--id", "5", "--peer-addr", oc.raftAddr(1)}, ep...), "409")
	tokenOnly.fails([]string{"member", "remove", "abc"}, "member id", "positive integer")

	// Removal with the admin session.
	if out := c.ok("member", "remove", "4"); out != "removed member 4\n" {
		t.Fatalf("member remove printed %q", out)
	}
	oc.eventually("member 4 is gone", func() bool { return slices.Equal(oc.memberIDs(), []uint64{1, 2, 3}) })
	if out := c.ok("member", "list"); strings.Count(out, "\n") != 4 {
		t.Fatalf("member list after remove:\n%s", out)
	}
	c.fails([]string{"member", "remove", "4"}, "remove member 4", "404")
}

// TestConsulStyleArgs checks the single-dash rewrite touches only the
// operator raft commands' Consul flags.
func TestConsulStyleArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"operator raft remove-peer -id 2", "operator raft remove-peer --id 2"},
		{"operator raft remove-peer -address=1.2.3.4:7000 -token t", "operator raft remove-peer --address=1.2.3.4:7000 --token t"},
		{"operator raft list-peers -stale --endpoint x", "operator raft list-peers --stale --endpoint x"},
		{"operator raft list-peers -h", "operator raft list-peers -h"},
		{"operator raft remove-peer -- -id", "operator raft remove-peer -- -id"},
		{"kv put -id 2", "kv put -id 2"},
	} {
		if got := strings.Join(consulStyleArgs(strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("consulStyleArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
