// Package operatortest runs the operator module end to end on in-process
// clusters of real nodes: Consul's operator raft API through Consul's own
// Go client (github.com/hashicorp/consul/api), and etcdmonitor's ops API.
package operatortest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// TestConsulRaftConfiguration reads the configuration with Consul's client
// from the leader, from a follower (forwarded to the leader) and with
// ?stale (answered locally), with the token in each place Consul's clients
// put it.
func TestConsulRaftConfiguration(t *testing.T) {
	c := startConsulCluster(t, 3)
	lead := c.leader()
	fol := c.follower()

	check := func(from int, conf *consulapi.RaftConfiguration) {
		t.Helper()
		if len(conf.Servers) != 3 || conf.Index == 0 {
			t.Fatalf("from node %d: %d servers, index %d: %+v", from, len(conf.Servers), conf.Index, conf)
		}
		leaders := 0
		for i, s := range conf.Servers {
			tn := c.node(i + 1)
			want := consulapi.RaftServer{
				ID: strconv.FormatUint(tn.ID, 10), Node: fmt.Sprintf("node-%d", tn.ID), Address: tn.Config.Raft.Addr,
				Leader: int(tn.ID) == lead, ProtocolVersion: "3", Voter: true, LastIndex: s.LastIndex,
			}
			if *s != want {
				t.Fatalf("from node %d: server %d is %+v, want %+v", from, i, *s, want)
			}
			// The leader answers: it knows every member's last index.
			if s.LastIndex == 0 {
				t.Fatalf("from node %d: server %s has no LastIndex: %+v", from, s.ID, *s)
			}
			if s.Leader {
				leaders++
			}
		}
		if leaders != 1 {
			t.Fatalf("from node %d: %d leaders", from, leaders)
		}
	}
	for _, i := range []int{lead, fol} {
		conf, err := c.operator(i).RaftGetConfiguration(nil)
		if err != nil {
			t.Fatalf("configuration from node %d: %v", i, err)
		}
		check(i, conf)
	}

	// Consul's headers, from the leader (directly or through a follower).
	for _, i := range []int{lead, fol} {
		r := c.do(i, http.MethodGet, "/v1/operator/raft/configuration", c.admin)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("node %d: %s", i, r)
		}
		if idx, err := strconv.ParseUint(r.header.Get("X-Consul-Index"), 10, 64); err != nil || idx == 0 {
			t.Fatalf("node %d: X-Consul-Index %q", i, r.header.Get("X-Consul-Index"))
		}
		if r.header.Get("X-Consul-KnownLeader") != "true" || r.header.Get("X-Consul-LastContact") != "0" {
			t.Fatalf("node %d: KnownLeader %q LastContact %q", i, r.header.Get("X-Consul-KnownLeader"), r.header.Get("X-Consul-LastContact"))
		}
		for _, want := range []string{`"Servers":[`, `"ID":"1"`, `"Node":"node-1"`, `"ProtocolVersion":"3"`, `"LastIndex":`, `"Index":`} {
			if !strings.Contains(r.body, want) {
				t.Fatalf("node %d: body lacks %s: %s", i, want, r.body)
			}
		}
	}

	// ?stale (empty value, as Consul's client sends it) on a follower is
	// answered there: it knows only its own last index.
	conf, err := c.operator(fol).RaftGetConfiguration(&consulapi.QueryOptions{AllowStale: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range conf.Servers {
		mine := s.ID == strconv.Itoa(fol)
		if mine != (s.LastIndex != 0) {
			t.Fatalf("stale read on node %d: server %s LastIndex %d (want non-zero only for the answering node)", fol, s.ID, s.LastIndex)
		}
		if s.Leader != (s.ID == strconv.Itoa(lead)) {
			t.Fatalf("stale read on node %d: %+v", fol, *s)
		}
	}
	r := c.do(fol, http.MethodGet, "/v1/operator/raft/configuration?stale", c.admin)
	if r.status != http.StatusOK || r.header.Get("X-Consul-Effective-Consistency") != "stale" {
		t.Fatalf("?stale: %s, consistency %q", r, r.header.Get("X-Consul-Effective-Consistency"))
	}
	consulWantPlainError(t, c.do(fol, http.MethodGet, "/v1/operator/raft/configuration?stale&consistent", c.admin),
		http.StatusBadRequest, "conflicting consistency modes")

	// The token also works as ?token= and as a bearer token.
	if r := c.do(fol, http.MethodGet, "/v1/operator/raft/configuration?token="+url.QueryEscape(c.admin), ""); r.status != http.StatusOK {
		t.Fatalf("?token=: %s", r)
	}
	req, _ := http.NewRequest(http.MethodGet, c.node(lead).Base+"/v1/operator/raft/configuration", nil)
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Authorization: Bearer: %s", resp.Status)
	}

	// The leader stops: a survivor answers ?stale with the stopped leader
	// still in the configuration (retrying only while its session cache
	// waits for the new leader: 503), and reads without ?stale work again
	// under the new leader.
	c.stop(lead)
	testnode.Eventually(t, 10*time.Second, "a stale read on a survivor", func() bool {
		conf, err := c.operator(fol).RaftGetConfiguration(&consulapi.QueryOptions{AllowStale: true})
		if err != nil {
			if code, _ := consulStatus(t, err); code != http.StatusServiceUnavailable {
				t.Fatalf("stale read with the leader stopped: %v", err)
			}
			return false
		}
		if len(conf.Servers) != 3 || consulServerByID(conf)[strconv.Itoa(lead)] == nil {
			t.Fatalf("stale read with the leader stopped: %+v", conf)
		}
		return true
	})
	newLead := c.leader()
	testnode.Eventually(t, 10*time.Second, "a read under the new leader", func() bool {
		conf, err := c.operator(fol).RaftGetConfiguration(nil)
		return err == nil && consulServerByID(conf)[strconv.Itoa(newLead)].Leader
	})
}

// TestConsulTransferLeader moves leadership to a chosen server, then to
// whichever the cluster picks, through Consul's client on followers.
func TestConsulTransferLeader(t *testing.T) {
	c := startConsulCluster(t, 3)
	lead := c.leader()
	fol := c.follower()
	var other int
	for i := 1; i <= 3; i++ {
		if i != lead && i != fol {
			other = i
		}
	}

	// To a chosen id, asked on another follower.
	ans, err := c.operator(other).RaftLeaderTransfer(strconv.Itoa(fol), nil)
	if err != nil || !ans.Success {
		t.Fatalf("transfer to %d: %+v %v", fol, ans, err)
	}
	// Answered once the new leader has taken over, as the answering node sees it.
	if got := c.node(other).Node.Store().Raft().Leader(); got != uint64(fol) {
		t.Fatalf("after the transfer node %d sees leader %d, want %d", other, got, fol)
	}
	if got := c.leader(); got != fol {
		t.Fatalf("leader %d after transfer to %d", got, fol)
	}
	conf, err := c.operator(lead).RaftGetConfiguration(nil)
	if err != nil || !consulServerByID(conf)[strconv.Itoa(fol)].Leader {
		t.Fatalf("configuration after transfer: %+v %v", conf, err)
	}

	// Without an id, on the leader itself: any other voter takes over.
	ans, err = c.operator(fol).RaftLeaderTransfer("", nil)
	if err != nil || !ans.Success {
		t.Fatalf("transfer without id: %+v %v", ans, err)
	}
	if got := c.leader(); got == fol {
		t.Fatalf("leader still %d after a transfer without id", got)
	}

	// To the current leader: nothing to do, still a success.
	now := c.leader()
	if ans, err := c.operator(now).RaftLeaderTransfer(strconv.Itoa(now), nil); err != nil || !ans.Success {
		t.Fatalf("transfer to the current leader: %+v %v", ans, err)
	}

	// Refusals: unknown and malformed ids.
	_, err = c.operator(1).RaftLeaderTransfer("9", nil)
	if code, body := consulStatus(t, err); code != http.StatusNotFound || !strings.Contains(body, `id "9" was not found`) {
		t.Fatalf("transfer to 9: %d %q", code, body)
	}
	consulWantPlainError(t, c.do(1, http.MethodPost, "/v1/operator/raft/transfer-leader?id=abc", c.admin), http.StatusBadRequest, `"abc"`)
	// Consul's route takes POST only.
	consulWantPlainError(t, c.do(1, http.MethodPut, "/v1/operator/raft/transfer-leader", c.admin), http.StatusMethodNotAllowed, "PUT")

	// Each transfer is in the audit log once, with where leadership went.
	e := c.waitAudit(1, "transfer-leader", func(e audit.Entry) bool {
		return e.Success && strings.Contains(e.Params, fmt.Sprintf(`"requested":%d`, fol))
	})
	if e.Username != "admin" || e.Target != "raft leadership" || e.Operation != "POST /v1/operator/raft/transfer-leader" ||
		!strings.Contains(e.Params, fmt.Sprintf(`"from":%d`, lead)) || !strings.Contains(e.Params, fmt.Sprintf(`"to":%d`, fol)) {
		t.Fatalf("audit entry %+v", e)
	}
	testnode.Eventually(t, 10*time.Second, "every transfer is audited", func() bool {
		ok, failed := 0, 0
		for _, e := range c.audit(1, "transfer-leader") {
			if e.Success {
				ok++
			} else {
				failed++
			}
		}
		return ok == 3 && failed >= 2 // 404, 400 (and the 405, audited by the router)
	})
}

// TestConsulRemovePeers removes a follower by address (asked on that very
// follower) and the leader by id (asked on the other follower), then finds
// the last voter cannot be removed.
func TestConsulRemovePeers(t *testing.T) {
	c := startConsulCluster(t, 3)
	lead := c.leader()
	f1 := c.follower()
	var f2 int
	for i := 1; i <= 3; i++ {
		if i != lead && i != f1 {
			f2 = i
		}
	}
	ids := func(nodes ...int) []uint64 {
		out := []uint64{}
		for i := 1; i <= 3; i++ {
			for _, n := range nodes {
				if n == i {
					out = append(out, uint64(i))
				}
			}
		}
		return out
	}

	// A follower by address, asked on itself: forwarded to the leader.
	addr := c.node(f1).Config.Raft.Addr
	if err := c.operator(f1).RaftRemovePeerByAddress(addr, nil); err != nil {
		t.Fatalf("remove %s: %v", addr, err)
	}
	c.waitMemberIDs(ids(lead, f2), lead, f2)
	// The leader made the change and wrote its audit entry; let it reach
	// the log before that leader is removed too.
	c.waitAudit(f2, "DELETE /v1/operator/raft/peer", func(e audit.Entry) bool { return e.Success })
	conf, err := c.operator(lead).RaftGetConfiguration(nil)
	if err != nil || len(conf.Servers) != 2 || consulServerByID(conf)[strconv.Itoa(f1)] != nil {
		t.Fatalf("configuration after removing %d: %+v %v", f1, conf, err)
	}

	// The leader by id, asked on the other member: leadership moves first.
	if err := c.operator(f2).RaftRemovePeerByID(strconv.Itoa(lead), nil); err != nil {
		t.Fatalf("remove leader %d: %v", lead, err)
	}
	c.waitMemberIDs(ids(f2), f2)
	if got := c.node(f2).Node.Store().Raft().Leader(); got != uint64(f2) {
		t.Fatalf("leader %d after removing the old leader, want %d", got, f2)
	}
	conf, err = c.operator(f2).RaftGetConfiguration(nil)
	if err != nil || len(conf.Servers) != 1 || !conf.Servers[0].Leader || conf.Servers[0].ID != strconv.Itoa(f2) {
		t.Fatalf("configuration with one server left: %+v %v", conf, err)
	}

	// The last voter stays, by id or by address.
	err = c.operator(f2).RaftRemovePeerByID(strconv.Itoa(f2), nil)
	if code, body := consulStatus(t, err); code != http.StatusConflict || !strings.Contains(body, "last voter") {
		t.Fatalf("remove the last voter: %d %q", code, body)
	}
	consulWantPlainError(t, c.do(f2, http.MethodDelete, "/v1/operator/raft/peer?address="+url.QueryEscape(c.node(f2).Config.Raft.Addr), c.admin),
		http.StatusConflict, "last voter")
	c.waitMemberIDs(ids(f2), f2)
	// Nor can leadership go anywhere.
	_, err = c.operator(f2).RaftLeaderTransfer("", nil)
	if code, body := consulStatus(t, err); code != http.StatusConflict || !strings.Contains(body, "no other voter") {
		t.Fatalf("transfer with one server: %d %q", code, body)
	}

	// Each removal is audited once, by the member that made it, with the
	// server it removed; the refusals too.
	removed := map[string]bool{}
	testnode.Eventually(t, 10*time.Second, "both removals and both refusals in the audit log", func() bool {
		removed = map[string]bool{}
		refused := 0
		for _, e := range c.audit(f2, "DELETE /v1/operator/raft/peer") {
			if e.Success {
				removed[e.Target] = true
				if e.Username != "admin" {
					t.Fatalf("audit entry %+v", e)
				}
			} else {
				refused++
			}
		}
		return len(removed) == 2 && refused == 2
	})
	for _, n := range []int{f1, lead} {
		if want := fmt.Sprintf("raft peer %d (%s)", n, c.node(n).Config.Raft.Addr); !removed[want] {
			t.Fatalf("audit targets %v lack %q", removed, want)
		}
	}
	ok := 0
	for _, e := range c.audit(f2, "DELETE /v1/operator/raft/peer") {
		if e.Success {
			ok++
		}
	}
	if ok != 2 {
		t.Fatalf("%d successful removal entries, want 2 (one per removal, not one per hop)", ok)
	}
}

// TestConsulStaleReads reads the configuration with the leader gone: a
// survivor answers ?stale from its own state, and without ?stale answers
// Consul's "No cluster leader" once it knows no leader. Auth is off in
// this cluster: a node cut off from its quorum cannot check sessions
// (core/auth trusts its session cache only for a second after a
// successful ReadIndex), so with auth on every request to it is a 503
// before any route runs. TestConsulRaftConfiguration covers ?stale with
// auth on while the survivors still have a quorum.
func TestConsulStaleReads(t *testing.T) {
	c := startConsulCluster(t, 3, func(cfg *config.Config) { cfg.Auth.Enabled = false })
	lead := c.leader()
	c.stop(lead)
	var survivors []int
	for i := 1; i <= 3; i++ {
		if i != lead {
			survivors = append(survivors, i)
		}
	}
	s := survivors[0]
	conf, err := c.operator(s).RaftGetConfiguration(&consulapi.QueryOptions{AllowStale: true})
	if err != nil || len(conf.Servers) != 3 {
		t.Fatalf("stale read on node %d with the leader stopped: %+v %v", s, conf, err)
	}

	// Leave one node alone: it loses its leader for good.
	c.stop(survivors[1])
	testnode.Eventually(t, 20*time.Second, "the last node knows no leader", func() bool {
		return c.node(s).Node.Store().Raft().Leader() == 0
	})
	time.Sleep(150 * time.Millisecond) // X-Consul-LastContact counts from the last leader seen

	_, err = c.operator(s).RaftGetConfiguration(nil)
	if code, body := consulStatus(t, err); code != http.StatusInternalServerError || body != "No cluster leader" {
		t.Fatalf("read without a leader: %d %q", code, body)
	}
	consulWantPlainError(t, c.do(s, http.MethodGet, "/v1/operator/raft/configuration", c.admin), http.StatusInternalServerError, "No cluster leader")

	conf, err = c.operator(s).RaftGetConfiguration(&consulapi.QueryOptions{AllowStale: true})
	if err != nil || len(conf.Servers) != 3 {
		t.Fatalf("stale read without a leader: %+v %v", conf, err)
	}
	for _, srv := range conf.Servers {
		if srv.Leader || !srv.Voter {
			t.Fatalf("stale read without a leader: %+v", *srv)
		}
	}
	r := c.do(s, http.MethodGet, "/v1/operator/raft/configuration?stale=", c.admin)
	if r.status != http.StatusOK || r.header.Get("X-Consul-KnownLeader") != "false" {
		t.Fatalf("?stale= without a leader: %s KnownLeader %q", r, r.header.Get("X-Consul-KnownLeader"))
	}
	if ms, err := strconv.ParseUint(r.header.Get("X-Consul-LastContact"), 10, 64); err != nil || ms < 100 {
		t.Fatalf("X-Consul-LastContact %q without a leader, want at least 100 (ms)", r.header.Get("X-Consul-LastContact"))
	}
}

// TestConsulRefusals sends bad input and bad credentials: each is a 4xx
// in plain text, as Consul answers, and the member table does not change.
func TestConsulRefusals(t *testing.T) {
	c := startConsulCluster(t, 3)
	lead := c.leader()
	fol := c.follower()
	all := []uint64{1, 2, 3}
	peer := "/v1/operator/raft/peer"

	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"", http.StatusBadRequest, "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"},
		{"?id=2&address=" + url.QueryEscape(c.node(2).Config.Raft.Addr), http.StatusBadRequest, "Must specify only one of ?id or ?address"},
		{"?id=9", http.StatusNotFound, `id "9" was not found in the Raft configuration`},
		{"?address=127.0.0.1:1", http.StatusNotFound, `address "127.0.0.1:1" was not found in the Raft configuration`},
		{"?address=", http.StatusBadRequest, "?address is empty"},
		{"?id=abc", http.StatusBadRequest, `id "abc" is not a server ID`},
		{"?id=0", http.StatusBadRequest, `id "0" is not a server ID`},
		{"?id=-1", http.StatusBadRequest, `id "-1" is not a server ID`},
		{"?id=", http.StatusBadRequest, `id "" is not a server ID`},
	} {
		for _, i := range []int{lead, fol} {
			consulWantPlainError(t, c.do(i, http.MethodDelete, peer+tc.query, c.admin), tc.status, tc.want)
		}
	}
	// Leader transfers to ids that are malformed or name no member move
	// nothing (checked with the removals below).
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"?id=abc", http.StatusBadRequest, `id "abc" is not a server ID`},
		{"?id=0", http.StatusBadRequest, `id "0" is not a server ID`},
		{"?id=-1", http.StatusBadRequest, `id "-1" is not a server ID`},
		{"?id=18446744073709551616", http.StatusBadRequest, "is not a server ID"},
		{"?id=9", http.StatusNotFound, `id "9" was not found`},
	} {
		for _, i := range []int{lead, fol} {
			consulWantPlainError(t, c.do(i, http.MethodPost, "/v1/operator/raft/transfer-leader"+tc.query, c.admin), tc.status, tc.want)
		}
	}
	// Through Consul's client too.
	err := c.operator(fol).RaftRemovePeerByID("9", nil)
	if code, _ := consulStatus(t, err); code != http.StatusNotFound {
		t.Fatalf("RaftRemovePeerByID(9): %v", err)
	}
	err = c.operator(fol).RaftRemovePeerByAddress("10.9.9.9:8300", nil)
	if code, body := consulStatus(t, err); code != http.StatusNotFound || !strings.Contains(body, "10.9.9.9:8300") {
		t.Fatalf("RaftRemovePeerByAddress: %v", err)
	}

	// Credentials: none or a bad token is a 401, a viewer (operator:read)
	// may read but not change (403), an operator may change.
	viewer := c.userToken("watcher", "viewer")
	_, err = c.client(fol, "").Operator().RaftGetConfiguration(nil)
	if code, _ := consulStatus(t, err); code != http.StatusUnauthorized {
		t.Fatalf("configuration without a token: %v", err)
	}
	for _, tok := range []string{"", "not-a-token", strings.Repeat("A", 64)} {
		consulWantPlainError(t, c.do(fol, http.MethodGet, "/v1/operator/raft/configuration", tok), http.StatusUnauthorized, "authentication required")
		consulWantPlainError(t, c.do(fol, http.MethodDelete, peer+"?id=2", tok), http.StatusUnauthorized, "authentication required")
		consulWantPlainError(t, c.do(fol, http.MethodPost, "/v1/operator/raft/transfer-leader", tok), http.StatusUnauthorized, "authentication required")
	}
	if _, err := c.client(fol, viewer).Operator().RaftGetConfiguration(nil); err != nil {
		t.Fatalf("viewer reads the configuration: %v", err)
	}
	err = c.client(fol, viewer).Operator().RaftRemovePeerByID("2", nil)
	if code, body := consulStatus(t, err); code != http.StatusForbidden || !strings.Contains(body, "permission denied") {
		t.Fatalf("viewer removes a peer: %v", err)
	}
	consulWantPlainError(t, c.do(lead, http.MethodPost, "/v1/operator/raft/transfer-leader", viewer), http.StatusForbidden, "permission denied")
	consulWantPlainError(t, c.do(lead, http.MethodDelete, peer+"?id=2", viewer), http.StatusForbidden, "permission denied")

	for i := 1; i <= 3; i++ {
		if got := c.memberIDs(i); fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("node %d lists members %v after refused requests", i, got)
		}
	}
	if got := c.leader(); got != lead {
		t.Fatalf("leader moved from %d to %d after refused requests", lead, got)
	}

	// An operator may transfer leadership.
	op := c.userToken("runner", "operator")
	if ans, err := c.client(fol, op).Operator().RaftLeaderTransfer(strconv.Itoa(fol), nil); err != nil || !ans.Success {
		t.Fatalf("operator transfers leadership: %+v %v", ans, err)
	}

	// Refusals are audited as failures, with the caller when known.
	testnode.Eventually(t, 10*time.Second, "refused removals in the audit log", func() bool {
		var viewerDenied, anonymous, badInput int
		for _, e := range c.audit(1, "DELETE /v1/operator/raft/peer") {
			if e.Success {
				t.Fatalf("a refused removal was audited as a success: %+v", e)
			}
			switch {
			case e.Username == "watcher" && e.Status == http.StatusForbidden:
				viewerDenied++
			case e.Username == "anonymous" && e.Status == http.StatusUnauthorized:
				anonymous++
			case e.Username == "admin" && e.Status >= 400 && e.Status < 500:
				badInput++
			}
		}
		return viewerDenied == 2 && anonymous == 3 && badInput == 20
	})
}

// TestConsulStaleReadsWithAuth: with sessions required, a node cut off
// from its quorum still answers ?stale for a session it already knows
// (Consul's extend-cache down policy), while a read that needs the leader
// is refused.
func TestConsulStaleReadsWithAuth(t *testing.T) {
	c := startConsulCluster(t, 3)
	lead := c.leader()
	var survivors []int
	for i := 1; i <= 3; i++ {
		if i != lead {
			survivors = append(survivors, i)
		}
	}
	s := survivors[0]
	c.stop(lead)
	c.stop(survivors[1])
	testnode.Eventually(t, 20*time.Second, "the last node knows no leader", func() bool {
		return c.node(s).Node.Store().Raft().Leader() == 0
	})
	time.Sleep(1500 * time.Millisecond) // past core/auth's freshness window

	conf, err := c.operator(s).RaftGetConfiguration(&consulapi.QueryOptions{AllowStale: true})
	if err != nil || len(conf.Servers) != 3 {
		t.Fatalf("stale read with auth and no quorum: %+v %v", conf, err)
	}
	if r := c.do(s, http.MethodGet, "/v1/operator/raft/configuration?stale", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("stale read without a token: %s, want 401", r)
	}
	if _, err := c.operator(s).RaftGetConfiguration(nil); err == nil {
		t.Fatal("a read needing the leader succeeded without a quorum")
	}
}
