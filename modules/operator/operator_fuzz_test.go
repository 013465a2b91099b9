package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// Fuzz targets for the operator module: etcdmonitor's ops bodies on a real
// one-node store, and the query parameters of Consul's peer removal and
// leadership transfer on a fake cluster. Common properties: no panic,
// never a 5xx for anything a client sends, a 2xx only for a request that
// validates, and a refused request changes nothing.

// fuzzStore starts a one-node store that leads, with a quiet logger and
// no TTL sweeps.
func fuzzStore(f *testing.F) *store.Store {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	st, err := store.Open(store.Options{
		DataDir: f.TempDir(),
		Raft: raft.Config{
			ID: 1, Name: "node-1", PeerAddr: ln.Addr().String(), Listener: ln,
			SnapshotCount: 100000, SnapshotCatchupEntries: 5000,
			TickInterval: 20 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
			RequestTimeout: 10 * time.Second,
		},
		Logger:      quietLog(),
		TTLInterval: 24 * time.Hour,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	for deadline := time.Now().Add(10 * time.Second); !st.Raft().IsLeader(); {
		if time.Now().After(deadline) {
			f.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return st
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fuzzPeers is module.Peers for a one-member cluster: nothing to forward
// to, so a forward is a test failure.
type fuzzPeers struct{ forwards int }

func (p *fuzzPeers) Forward(w http.ResponseWriter, _ *http.Request, _ uint64) {
	p.forwards++
	w.WriteHeader(299)
}
func (p *fuzzPeers) Forwarded(*http.Request) bool { return false }
func (p *fuzzPeers) Do(context.Context, uint64, *http.Request) (*http.Response, error) {
	return nil, raft.ErrUnknownMember
}

// removedMember has an alarm raised although it is no longer a member:
// disarming it is the one disarm that succeeds.
const removedMember = 7

// FuzzOpsRequest: every ops POST body (defragment, alarms/disarm,
// move-leader, hashkv, compact) and the audit-log query, on a real
// one-node store (member 1). A 200 only for a body that names member 1
// (or the removed member's raised alarm), a positive retain_count that
// leaves an uncompacted target, a readable hashkv revision; and then the
// store shows it (the alarm gone, the compacted revision moved, the hash
// at the asked revision). A 4xx leaves the alarms and the compacted
// revision as they were.
func FuzzOpsRequest(f *testing.F) {
	st := fuzzStore(f)
	ctx := context.Background()
	ans, err := st.Namespace("core.audit")
	if err != nil {
		f.Fatal(err)
	}
	alog := audit.New(ans, audit.Options{NodeID: 1, Logger: quietLog(), FlushInterval: 5 * time.Millisecond})
	for i := range 30 {
		op := "POST /api/ops/compact"
		if i%3 == 0 {
			op = "POST /api/ops/move-leader"
		}
		alog.Record(audit.Entry{Username: "admin", Operation: op, Target: "cluster", Status: 200, Result: "200 OK", Success: true, NodeID: 1, Time: time.Now()})
	}
	if err := alog.Close(ctx); err != nil {
		f.Fatal(err)
	}
	peers := &fuzzPeers{}
	m := &Module{opts: options{OpsEnabled: true}, cluster: st.Raft(), maint: st, peers: peers, audit: alog, self: 1, log: quietLog()}
	r := chi.NewRouter()
	m.opsRoutes(r)
	tick, err := st.Namespace("tick")
	if err != nil {
		f.Fatal(err)
	}
	routes := []string{"defragment", "alarms/disarm", "move-leader", "hashkv", "compact", "audit-logs", "alarms", "compact/revision"}
	const (
		defragment = iota
		disarm
		moveLeader
		hashkv
		compact
		auditLogs
	)
	for _, seed := range []struct {
		op          uint8
		body, query string
	}{
		{defragment, `{"member_id":"1"}`, ""},
		{defragment, `{"member_id":"2"}`, ""},
		{defragment, `{"member_id":"0"}`, ""},
		{defragment, `{"member_id":"01"}`, ""},
		{defragment, `{"member_id":1}`, ""},
		{defragment, `{"member_id":"18446744073709551616"}`, ""},
		{defragment, `{"member_id":"-1"}`, ""},
		{defragment, `{"member_id":" 1"}`, ""},
		{defragment, `{}`, ""},
		{defragment, ``, ""},
		{disarm, `{"member_id":"7","alarm_type":"NOSPACE"}`, ""},
		{disarm, `{"member_id":"7","alarm_type":"AlarmType_NOSPACE"}`, ""},
		{disarm, `{"member_id":"7","alarm_type":"CORRUPT"}`, ""},
		{disarm, `{"member_id":"1","alarm_type":"NOSPACE"}`, ""},
		{disarm, `{"member_id":"8","alarm_type":"NOSPACE"}`, ""},
		{disarm, `{"member_id":"7","alarm_type":"nospace"}`, ""},
		{disarm, `{"member_id":"7","alarm_type":"AlarmType_AlarmType_NOSPACE"}`, ""},
		{disarm, `{"member_id":"7"}`, ""},
		{disarm, `{"member_id":"7","alarm_type":"NOSPACE","x":1}`, ""},
		{moveLeader, `{"target_member_id":"1"}`, ""},
		{moveLeader, `{"target_member_id":"2"}`, ""},
		{moveLeader, `{"target_member_id":""}`, ""},
		{moveLeader, `{"target_member_id":"1"}{}`, ""},
		{hashkv, ``, ""},
		{hashkv, `   `, ""},
		{hashkv, `{}`, ""},
		{hashkv, `{"revision":5}`, ""},
		{hashkv, `{"revision":1}`, ""},
		{hashkv, `{"revision":0}`, ""},
		{hashkv, `{"revision":-5}`, ""},
		{hashkv, `{"revision":99999999}`, ""},
		{hashkv, `{"revision":9223372036854775807}`, ""},
		{hashkv, `{"revision":9223372036854775808}`, ""},
		{hashkv, `{"revision":1.5}`, ""},
		{hashkv, `{"revision":"5"}`, ""},
		{hashkv, `{"revision":null}`, ""},
		{compact, `{"retain_count":1}`, ""},
		{compact, `{"retain_count":1,"physical":true}`, ""},
		{compact, `{"retain_count":0}`, ""},
		{compact, `{"retain_count":-1}`, ""},
		{compact, `{"retain_count":1000000}`, ""},
		{compact, `{"retain_count":9223372036854775807}`, ""},
		{compact, `{"retain_count":-9223372036854775808}`, ""},
		{compact, `{"physical":true}`, ""},
		{compact, `{"retain_count":"1"}`, ""},
		{compact, `{"retain_count":1e2}`, ""},
		{compact, `[1]`, ""},
		{compact, `{"retain_count":1` + strings.Repeat(" ", 70000) + `}`, ""},
		{auditLogs, ``, "page=1&page_size=5"},
		{auditLogs, ``, "page=0"},
		{auditLogs, ``, "page_size=-1"},
		{auditLogs, ``, "page=9223372036854775807&page_size=9223372036854775807"},
		{auditLogs, ``, "page=2&page_size=1000000&operation=move_leader"},
		{auditLogs, ``, "operation=%E4%B8%96"},
		{auditLogs, ``, "page=x"},
		{6, ``, ""}, {7, ``, ""},
		{defragment, "\xff", ""}, {compact, `{"retain_count":`, ""}, {disarm, `null`, ""},
	} {
		f.Add(seed.op, []byte(seed.body), seed.query)
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte, query string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A write moves the revision, so compactions keep having room;
		// then the removed member's NOSPACE alarm is raised again.
		for _, a := range st.Alarms() {
			if err := st.DisarmAlarm(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tick.Put(ctx, "t", []byte("x"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		raised := store.Alarm{MemberID: removedMember, Type: store.AlarmNoSpace}
		if err := st.RaiseAlarm(ctx, raised); err != nil {
			t.Fatal(err)
		}
		rt := int(op) % len(routes)
		method := http.MethodPost
		if rt >= auditLogs {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "/api/ops/"+routes[rt], bytes.NewReader(body))
		req.URL.RawQuery = query
		current, compacted := st.Revision(), st.CompactedRevision()
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", routes[rt], body, w.Code, w.Body)
		}
		if peers.forwards != 0 {
			t.Fatalf("%s %q forwarded in a one-member cluster", routes[rt], body)
		}
		if w.Code != http.StatusOK {
			var e struct{ Error, Code string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Code == "" {
				t.Fatalf("%d is not an ops error: %s", w.Code, w.Body)
			}
			if got := st.Alarms(); len(got) != 1 || got[0] != raised {
				t.Fatalf("%s %q refused (%d), yet the alarms are %v", routes[rt], body, w.Code, got)
			}
			if got := st.CompactedRevision(); got != compacted {
				t.Fatalf("%s %q refused (%d), yet the compacted revision moved from %d to %d", routes[rt], body, w.Code, compacted, got)
			}
			return
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v: %s", routes[rt], err, w.Body)
		}
		switch rt {
		case defragment:
			var b opsDefragmentRequest
			if !testutil.StrictJSON(body, &b) || !isMemberID(b.MemberID, 1) || out["member_id"] != "1" {
				t.Fatalf("defragment 200 for %q: %s", body, w.Body)
			}
		case disarm:
			var b opsDisarmRequest
			if !testutil.StrictJSON(body, &b) || !isMemberID(b.MemberID, removedMember) ||
				strings.TrimPrefix(b.AlarmType, "AlarmType_") != string(store.AlarmNoSpace) {
				t.Fatalf("disarm 200 for %q", body)
			}
			if got := st.Alarms(); len(got) != 0 {
				t.Fatalf("disarm 200, yet alarms %v", got)
			}
		case moveLeader:
			var b opsMoveLeaderRequest
			if !testutil.StrictJSON(body, &b) || !isMemberID(b.TargetMemberID, 1) {
				t.Fatalf("move-leader 200 for %q", body)
			}
		case hashkv:
			var b opsHashKVRequest
			if len(bytes.Trim(body, " \t\r\n")) != 0 && !testutil.StrictJSON(body, &b) {
				t.Fatalf("hashkv 200 for %q", body)
			}
			var res opsHashKVResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || !res.Consistent || len(res.Results) != 1 {
				t.Fatalf("hashkv answer %s: %v", w.Body, err)
			}
			if b.Revision != nil {
				if *b.Revision < max(compacted, 1) || *b.Revision > current || res.Revision != *b.Revision {
					t.Fatalf("hashkv 200 at revision %d for %q (current %d, compacted %d)", res.Revision, body, current, compacted)
				}
				h, err := st.HashKV(ctx, *b.Revision)
				if err != nil || h.Hash != res.Results[0].Hash {
					t.Fatalf("hashkv answered %d; the store hashes %+v (%v)", res.Results[0].Hash, h, err)
				}
			}
		case compact:
			var b opsCompactRequest
			if !testutil.StrictJSON(body, &b) || b.RetainCount == nil || *b.RetainCount <= 0 {
				t.Fatalf("compact 200 for %q", body)
			}
			target := current - *b.RetainCount
			if target <= compacted || st.CompactedRevision() != target {
				t.Fatalf("compact 200 for %q: target %d, compacted %d -> %d", body, target, compacted, st.CompactedRevision())
			}
		case auditLogs:
			q := req.URL.Query()
			for _, k := range []string{"page", "page_size"} {
				if v := q.Get(k); v != "" {
					if n, err := strconv.Atoi(v); err != nil || n <= 0 {
						t.Fatalf("audit-logs 200 for %s=%q", k, v)
					}
				}
			}
			var page audit.Page
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || page.Entries == nil || len(page.Entries) > page.PageSize {
				t.Fatalf("audit page %s: %v", w.Body, err)
			}
		}
	})
}

// isMemberID: s is a decimal id (leading zeros allowed, as ParseUint
// allows them) equal to id.
func isMemberID(s string, id uint64) bool {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n == id
}

// FuzzConsulPeerQuery: Consul's DELETE /v1/operator/raft/peer,
// POST /v1/operator/raft/transfer-leader and GET
// /v1/operator/raft/configuration with any query, on a fake three-member
// cluster (1 and 2 vote, 3 is a learner) seen from member self with
// leader lead. No 5xx but Consul's own "No cluster leader" when no leader
// is known; a removal only with exactly one of ?id and ?address naming a
// member, carried out here only for another member while leading; a
// transfer only to a voter (or, without an id, to any); nothing changes
// on a 4xx.
func FuzzConsulPeerQuery(f *testing.F) {
	for _, seed := range []struct {
		route, self, lead uint8
		query             string
	}{
		{0, 1, 1, "id=2"}, {0, 1, 1, "id=3"}, {0, 1, 1, "id=1"}, {0, 2, 1, "id=3"}, {0, 1, 1, "address=10.0.0.2:7000"},
		{0, 1, 1, "id=2&address=10.0.0.2:7000"}, {0, 1, 1, ""}, {0, 1, 1, "id="}, {0, 1, 1, "address="}, {0, 1, 1, "id=0"},
		{0, 1, 1, "id=-1"}, {0, 1, 1, "id=18446744073709551616"}, {0, 1, 1, "id=9"}, {0, 1, 1, "address=10.0.0.9:7000"},
		{0, 1, 1, "id=2&id=3"}, {0, 1, 1, "id=%32"}, {0, 1, 1, "id=%zz"}, {0, 1, 1, "id=2;address=x"}, {0, 1, 0, "id=2"},
		{0, 2, 0, "id=3"}, {0, 1, 1, "ID=2"}, {0, 1, 1, "id=+2"}, {0, 1, 1, "id=02"}, {0, 1, 1, "id=2%00"},
		{1, 1, 1, ""}, {1, 1, 1, "id=2"}, {1, 1, 1, "id=3"}, {1, 1, 1, "id=1"}, {1, 1, 1, "id=9"}, {1, 1, 1, "id=x"},
		{1, 1, 1, "id="}, {1, 2, 1, "id=1"}, {1, 1, 0, ""},
		{2, 1, 1, ""}, {2, 1, 1, "stale"}, {2, 1, 1, "stale&consistent"}, {2, 2, 1, ""}, {2, 2, 0, ""}, {2, 2, 0, "stale="},
	} {
		f.Add(seed.route, seed.self, seed.lead, seed.query)
	}
	f.Fuzz(func(t *testing.T, route, self, lead uint8, query string) {
		cl := &consulFakeCluster{self: 1 + uint64(self%2), lead: uint64(lead % 3), members: consulThreeMembers(), moveTo: 2}
		if cl.lead == cl.self {
			cl.moveTo = 3 - cl.self
		}
		h, peers := consulTestModule(cl)
		method, p := http.MethodDelete, "/v1/operator/raft/peer"
		switch route % 3 {
		case 1:
			method, p = http.MethodPost, "/v1/operator/raft/transfer-leader"
		case 2:
			method, p = http.MethodGet, "/v1/operator/raft/configuration"
		}
		req := httptest.NewRequest(method, p, nil)
		req.URL.RawQuery = query
		q := req.URL.Query()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		forwarded := len(peers.forwardedTo) > 0
		if w.Code >= 500 && (w.Code != http.StatusInternalServerError || w.Body.String() != consulNoLeaderMsg || cl.Leader() != 0 && cl.Leader() != cl.self) {
			t.Fatalf("%s %s?%s (self %d, lead %d): %d %q", method, p, query, cl.self, lead%3, w.Code, w.Body)
		}
		if w.Code/100 == 4 {
			if len(cl.removed) != 0 || len(cl.transfers) != 0 || forwarded {
				t.Fatalf("%d for %s?%s, yet removed %v, transferred %v, forwarded %v", w.Code, p, query, cl.removed, cl.transfers, peers.forwardedTo)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || w.Body.Len() == 0 {
				t.Fatalf("%d is not Consul's plain-text error: %q %q", w.Code, ct, w.Body)
			}
		}
		members := consulThreeMembers()
		byID := func(s string) (raft.Member, bool) {
			if s == "" || strings.Trim(s, "0123456789") != "" {
				return raft.Member{}, false
			}
			id, err := strconv.ParseUint(s, 10, 64)
			i := slices.IndexFunc(members, func(m raft.Member) bool { return m.ID == id })
			if err != nil || i < 0 {
				return raft.Member{}, false
			}
			return members[i], true
		}
		switch route % 3 {
		case 0:
			_, hasID := q["id"]
			_, hasAddr := q["address"]
			var target raft.Member
			ok := false
			if hasID && !hasAddr {
				target, ok = byID(q.Get("id"))
			} else if hasAddr && !hasID {
				i := slices.IndexFunc(members, func(m raft.Member) bool { return q.Get("address") != "" && m.PeerAddr == q.Get("address") })
				if ok = i >= 0; ok {
					target = members[i]
				}
			}
			switch {
			case w.Code == http.StatusOK:
				if !ok || target.ID == cl.self || !slices.Equal(cl.removed, []uint64{target.ID}) || forwarded {
					t.Fatalf("removal 200 for %q (self %d): removed %v", query, cl.self, cl.removed)
				}
			case ok && w.Code/100 == 4:
				t.Fatalf("removal of member %d refused with %d: %s", target.ID, w.Code, w.Body)
			case !ok && (len(cl.removed) != 0 || forwarded || len(cl.transfers) != 0):
				t.Fatalf("%q names no member, yet removed %v, forwarded %v, transferred %v", query, cl.removed, peers.forwardedTo, cl.transfers)
			}
		case 1:
			raw := q.Get("id")
			target, ok := byID(raw)
			ok = raw == "" || ok && !target.Learner
			switch {
			case w.Code == http.StatusOK:
				if !ok || !slices.Equal(cl.transfers, []uint64{target.ID}) {
					t.Fatalf("transfer 200 for %q: transfers %v", query, cl.transfers)
				}
			case ok && w.Code/100 == 4:
				t.Fatalf("transfer for %q refused with %d: %s", query, w.Code, w.Body)
			}
		case 2:
			_, stale := q["stale"]
			_, consistent := q["consistent"]
			if (w.Code == http.StatusBadRequest) != (stale && consistent) {
				t.Fatalf("configuration ?%s: %d", query, w.Code)
			}
		}
	})
}
