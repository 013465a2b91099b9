package operator

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/raft"
)

// consulFakeCluster is a module.Cluster whose answers the test sets.
type consulFakeCluster struct {
	mu        sync.Mutex
	self      uint64
	lead      uint64
	members   []raft.Member
	last      map[uint64]uint64
	removed   []uint64
	removeErr error
	transfers []uint64
	moveTo    uint64 // the leader after a transfer without a target
}

func (f *consulFakeCluster) ID() uint64           { return f.self }
func (f *consulFakeCluster) Term() uint64         { return 1 }
func (f *consulFakeCluster) AppliedIndex() uint64 { return 42 }
func (f *consulFakeCluster) Leader() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lead
}
func (f *consulFakeCluster) IsLeader() bool                 { return f.Leader() == f.self }
func (f *consulFakeCluster) Members() []raft.Member         { return append([]raft.Member(nil), f.members...) }
func (f *consulFakeCluster) LastIndexes() map[uint64]uint64 { return f.last }
func (f *consulFakeCluster) AddMember(context.Context, raft.Member) ([]raft.Member, error) {
	return nil, errors.New("not in this test")
}
func (f *consulFakeCluster) RemoveMember(_ context.Context, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	return f.removeErr
}
func (f *consulFakeCluster) TransferLeadership(_ context.Context, to uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transfers = append(f.transfers, to)
	if to == 0 {
		to = f.moveTo
	}
	f.lead = to
	return nil
}

// consulFakePeers records forwards and answers them with 299.
type consulFakePeers struct{ forwardedTo []uint64 }

func (p *consulFakePeers) Forward(w http.ResponseWriter, _ *http.Request, id uint64) {
	p.forwardedTo = append(p.forwardedTo, id)
	w.WriteHeader(299)
}
func (p *consulFakePeers) Forwarded(r *http.Request) bool {
	return r.Header.Get("X-Test-Forwarded") != ""
}
func (p *consulFakePeers) Do(context.Context, uint64, *http.Request) (*http.Response, error) {
	return nil, errors.New("not in this test")
}

func consulTestModule(cl *consulFakeCluster) (http.Handler, *consulFakePeers) {
	peers := &consulFakePeers{}
	m := &Module{cluster: cl, peers: peers, self: cl.self, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := chi.NewRouter()
	m.consulRoutes(r)
	return r, peers
}

func consulThreeMembers() []raft.Member {
	return []raft.Member{
		{ID: 1, Name: "a", PeerAddr: "10.0.0.1:7000"},
		{ID: 2, Name: "b", PeerAddr: "10.0.0.2:7000"},
		{ID: 3, PeerAddr: "10.0.0.3:7000", Learner: true},
	}
}

func consulServe(h http.Handler, method, target string, forwarded bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if forwarded {
		req.Header.Set("X-Test-Forwarded", "1")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestConsulConfigurationRouting(t *testing.T) {
	cl := &consulFakeCluster{self: 2, lead: 1, members: consulThreeMembers(), last: map[uint64]uint64{2: 40}}
	h, peers := consulTestModule(cl)

	// A follower forwards to the leader...
	if w := consulServe(h, http.MethodGet, "/v1/operator/raft/configuration", false); w.Code != 299 || len(peers.forwardedTo) != 1 || peers.forwardedTo[0] != 1 {
		t.Fatalf("follower: %d, forwarded to %v", w.Code, peers.forwardedTo)
	}
	// ...but answers ?stale and forwarded requests itself.
	for _, tc := range []struct {
		target    string
		forwarded bool
	}{{"/v1/operator/raft/configuration?stale", false}, {"/v1/operator/raft/configuration?stale=", false}, {"/v1/operator/raft/configuration", true}} {
		w := consulServe(h, http.MethodGet, tc.target, tc.forwarded)
		want := `{"Servers":[{"ID":"1","Node":"a","Address":"10.0.0.1:7000","Leader":true,"ProtocolVersion":"3","Voter":true,"LastIndex":0},` +
			`{"ID":"2","Node":"b","Address":"10.0.0.2:7000","Leader":false,"ProtocolVersion":"3","Voter":true,"LastIndex":40},` +
			`{"ID":"3","Node":"(unknown)","Address":"10.0.0.3:7000","Leader":false,"ProtocolVersion":"3","Voter":false,"LastIndex":0}],"Index":42}`
		if w.Code != http.StatusOK || w.Body.String() != want {
			t.Fatalf("%s (forwarded %v): %d %s", tc.target, tc.forwarded, w.Code, w.Body)
		}
		if w.Header().Get("X-Consul-Index") != "42" || w.Header().Get("X-Consul-KnownLeader") != "true" || w.Header().Get("X-Consul-LastContact") != "0" {
			t.Fatalf("headers %v", w.Header())
		}
	}
	if len(peers.forwardedTo) != 1 {
		t.Fatalf("forwarded again: %v", peers.forwardedTo)
	}

	// Without a leader: Consul's 500, unless ?stale.
	cl.lead = 0
	w := consulServe(h, http.MethodGet, "/v1/operator/raft/configuration", false)
	if w.Code != http.StatusInternalServerError || w.Body.String() != "No cluster leader" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("no leader: %d %q %v", w.Code, w.Body, w.Header())
	}
	w = consulServe(h, http.MethodGet, "/v1/operator/raft/configuration?stale", false)
	if w.Code != http.StatusOK || w.Header().Get("X-Consul-KnownLeader") != "false" || strings.Contains(w.Body.String(), `"Leader":true`) {
		t.Fatalf("stale without a leader: %d %s %v", w.Code, w.Body, w.Header())
	}
	if w := consulServe(h, http.MethodGet, "/v1/operator/raft/configuration?stale&consistent", false); w.Code != http.StatusBadRequest {
		t.Fatalf("stale and consistent: %d %s", w.Code, w.Body)
	}
}

func TestConsulRemovePeerRouting(t *testing.T) {
	// On a follower, a removal goes to the leader, even of the follower itself.
	cl := &consulFakeCluster{self: 2, lead: 1, members: consulThreeMembers()}
	h, peers := consulTestModule(cl)
	for _, q := range []string{"?id=3", "?address=10.0.0.2:7000"} {
		if w := consulServe(h, http.MethodDelete, "/v1/operator/raft/peer"+q, false); w.Code != 299 {
			t.Fatalf("%s on a follower: %d %s", q, w.Code, w.Body)
		}
	}
	if len(peers.forwardedTo) != 2 || peers.forwardedTo[1] != 1 || len(cl.removed) != 0 {
		t.Fatalf("forwarded to %v, removed %v", peers.forwardedTo, cl.removed)
	}
	// A forwarded removal of another member is carried out here.
	if w := consulServe(h, http.MethodDelete, "/v1/operator/raft/peer?id=3", true); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("forwarded removal: %d %q", w.Code, w.Body)
	}
	if len(cl.removed) != 1 || cl.removed[0] != 3 {
		t.Fatalf("removed %v", cl.removed)
	}

	// A leader asked to remove itself hands leadership over, then forwards.
	cl = &consulFakeCluster{self: 1, lead: 1, moveTo: 2, members: consulThreeMembers()}
	h, peers = consulTestModule(cl)
	if w := consulServe(h, http.MethodDelete, "/v1/operator/raft/peer?id=1", false); w.Code != 299 {
		t.Fatalf("leader removes itself: %d %s", w.Code, w.Body)
	}
	if len(cl.transfers) != 1 || cl.transfers[0] != 0 || len(peers.forwardedTo) != 1 || peers.forwardedTo[0] != 2 || len(cl.removed) != 0 {
		t.Fatalf("transfers %v, forwarded to %v, removed %v", cl.transfers, peers.forwardedTo, cl.removed)
	}

	// Errors from raft.
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{raft.ErrNoLeader, http.StatusInternalServerError, "No cluster leader"},
		{raft.ErrTimeout, http.StatusServiceUnavailable, "no quorum"},
		{raft.ErrUnknownMember, http.StatusNotFound, "unknown member"},
		{raft.ErrLastVoter, http.StatusConflict, "last voter"},
		{context.Canceled, http.StatusServiceUnavailable, "canceled"},
	} {
		cl := &consulFakeCluster{self: 1, lead: 1, members: consulThreeMembers(), removeErr: tc.err}
		h, _ := consulTestModule(cl)
		w := consulServe(h, http.MethodDelete, "/v1/operator/raft/peer?id=2", false)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
			t.Fatalf("%v: %d %q", tc.err, w.Code, w.Body)
		}
	}

	// The last voter, even with a learner beside it.
	cl = &consulFakeCluster{self: 1, lead: 1, members: []raft.Member{{ID: 1, PeerAddr: "a:1"}, {ID: 2, PeerAddr: "b:1", Learner: true}}}
	h, _ = consulTestModule(cl)
	if w := consulServe(h, http.MethodDelete, "/v1/operator/raft/peer?address=a:1", false); w.Code != http.StatusConflict {
		t.Fatalf("last voter: %d %s", w.Code, w.Body)
	}
	if w := consulServe(h, http.MethodDelete, "/v1/operator/raft/peer?id=2", false); w.Code != http.StatusOK || len(cl.removed) != 1 {
		t.Fatalf("the learner: %d %s %v", w.Code, w.Body, cl.removed)
	}
}

func TestConsulTransferLeaderHandler(t *testing.T) {
	cl := &consulFakeCluster{self: 2, lead: 1, members: consulThreeMembers()}
	h, _ := consulTestModule(cl)
	if w := consulServe(h, http.MethodPost, "/v1/operator/raft/transfer-leader?id=3", false); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "not a voter") {
		t.Fatalf("to a learner: %d %s", w.Code, w.Body)
	}
	if w := consulServe(h, http.MethodPost, "/v1/operator/raft/transfer-leader?id=2", false); w.Code != http.StatusOK || w.Body.String() != `{"Success":true}` {
		t.Fatalf("to 2: %d %s", w.Code, w.Body)
	}
	if w := consulServe(h, http.MethodPost, "/v1/operator/raft/transfer-leader?id=", false); w.Code != http.StatusOK {
		t.Fatalf("empty id: %d %s", w.Code, w.Body)
	}
	if len(cl.transfers) != 2 || cl.transfers[0] != 2 || cl.transfers[1] != 0 {
		t.Fatalf("transfers %v", cl.transfers)
	}
}
