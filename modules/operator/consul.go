package operator

// Consul's operator raft API (hashicorp/consul: api/operator_raft.go for
// the client, agent/operator_endpoint.go and agent/consul/
// operator_raft_endpoint.go for the server). JSON keys are the Go field
// names of Consul's structs; errors are plain text, as Consul writes them.

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

// Consul's messages, word for word where a client or a script may match
// them.
const (
	consulNoLeaderMsg      = "No cluster leader"
	consulPeerNeitherMsg   = "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
	consulPeerBothMsg      = "Must specify only one of ?id or ?address"
	consulConflictingReads = "Cannot specify ?stale with ?consistent, conflicting consistency modes"
	// consulProtocolVersion is the raft protocol Consul servers have
	// spoken since 1.0; clients print it in list-peers.
	consulProtocolVersion = "3"
)

// consulRaftServer is api.RaftServer.
type consulRaftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	ProtocolVersion string
	Voter           bool
	LastIndex       uint64
}

// consulRaftConfiguration is api.RaftConfiguration.
type consulRaftConfiguration struct {
	Servers []consulRaftServer
	Index   uint64
}

// consulTransferLeaderResponse is api.TransferLeaderResponse.
type consulTransferLeaderResponse struct {
	Success bool
}

// consulAPI serves the routes; it holds what the Module struct has no
// field for.
type consulAPI struct {
	m       *Module
	contact *leaderContact
}

// consulRoutes mounts Consul's operator raft API: operator:read (PermRead)
// for the configuration, operator:write (PermOperator) for changes.
func (m *Module) consulRoutes(r chi.Router) {
	c := &consulAPI{m: m, contact: watchLeaderContact(m.cluster)}
	m.route(r, http.MethodGet, "/v1/operator/raft/configuration", auth.PermRead, c.configuration)
	m.route(r, http.MethodDelete, "/v1/operator/raft/peer", auth.PermOperator, c.removePeer)
	// Consul's client (RaftLeaderTransfer) and server use POST only.
	m.route(r, http.MethodPost, "/v1/operator/raft/transfer-leader", auth.PermOperator, c.transferLeader)
}

// configuration answers GET /v1/operator/raft/configuration. The leader
// answers, as in Consul (a follower forwards the request to it) unless
// ?stale lets this node answer from its own state, leader or not.
func (c *consulAPI) configuration(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, stale := q["stale"]
	_, consistent := q["consistent"]
	if stale && consistent {
		httpx.Error(w, r, http.StatusBadRequest, consulConflictingReads)
		return
	}
	cl := c.m.cluster
	if !stale && !cl.IsLeader() && !c.m.peers.Forwarded(r) {
		switch lead := cl.Leader(); lead {
		case 0:
			httpx.Error(w, r, http.StatusInternalServerError, consulNoLeaderMsg)
			return
		case c.m.self:
			// Raft has just made this node leader; answer here.
		default:
			c.m.peers.Forward(w, r, lead)
			return
		}
	}
	conf := c.localConfiguration()
	h := w.Header()
	h.Set("X-Consul-Index", strconv.FormatUint(max(conf.Index, 1), 10))
	h.Set("X-Consul-KnownLeader", strconv.FormatBool(cl.Leader() != 0))
	h.Set("X-Consul-LastContact", strconv.FormatInt(c.contact.since(cl).Milliseconds(), 10))
	switch {
	case stale:
		h.Set("X-Consul-Effective-Consistency", "stale")
	case consistent:
		h.Set("X-Consul-Effective-Consistency", "consistent")
	default:
		h.Set("X-Consul-Effective-Consistency", "leader")
	}
	httpx.JSON(w, http.StatusOK, conf)
}

// localConfiguration is the member table as this node has applied it,
// with the last log index this node knows for each member (all of them on
// the leader, only itself elsewhere).
func (c *consulAPI) localConfiguration() consulRaftConfiguration {
	cl := c.m.cluster
	lead := cl.Leader()
	last := cl.LastIndexes()
	members := cl.Members()
	slices.SortFunc(members, func(a, b raft.Member) int { return cmp.Compare(a.ID, b.ID) })
	conf := consulRaftConfiguration{Servers: make([]consulRaftServer, 0, len(members)), Index: cl.AppliedIndex()}
	for _, mb := range members {
		name := mb.Name
		if name == "" {
			name = "(unknown)" // what Consul shows for a server it cannot name
		}
		conf.Servers = append(conf.Servers, consulRaftServer{
			ID:              strconv.FormatUint(mb.ID, 10),
			Node:            name,
			Address:         mb.PeerAddr,
			Leader:          lead != 0 && mb.ID == lead,
			ProtocolVersion: consulProtocolVersion,
			Voter:           !mb.Learner,
			LastIndex:       last[mb.ID],
		})
	}
	return conf
}
