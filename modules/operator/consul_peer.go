package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

// removePeer answers DELETE /v1/operator/raft/peer?id=N or ?address=IP:port.
//
// Like Consul, the change is made by the leader: a follower forwards the
// request. A node never carries out its own removal, because the audit
// entry it would write could not be replicated once it is out of the
// cluster: a leader asked to remove itself hands leadership to another
// voter first and forwards the request to it.
func (c *consulAPI) removePeer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, hasID := q["id"]
	_, hasAddr := q["address"]
	switch {
	case !hasID && !hasAddr:
		httpx.Error(w, r, http.StatusBadRequest, consulPeerNeitherMsg)
		return
	case hasID && hasAddr:
		httpx.Error(w, r, http.StatusBadRequest, consulPeerBothMsg)
		return
	}
	members := c.m.cluster.Members()
	var target raft.Member
	if hasID {
		id, ok := parseServerID(w, r, q.Get("id"))
		if !ok {
			return
		}
		if target = memberWith(members, func(m raft.Member) bool { return m.ID == id }); target.ID == 0 {
			httpx.Error(w, r, http.StatusNotFound, fmt.Sprintf("id %q was not found in the Raft configuration", q.Get("id")))
			return
		}
	} else {
		addr := q.Get("address")
		if addr == "" {
			httpx.Error(w, r, http.StatusBadRequest, "?address is empty: give the peer's IP:port as the configuration lists it")
			return
		}
		if target = memberWith(members, func(m raft.Member) bool { return m.PeerAddr == addr }); target.ID == 0 {
			httpx.Error(w, r, http.StatusNotFound, fmt.Sprintf("address %q was not found in the Raft configuration", addr))
			return
		}
	}
	if !target.Learner && voters(members) <= 1 {
		httpx.Error(w, r, http.StatusConflict, fmt.Sprintf("cannot remove server %d (%s): it is the last voter in the Raft configuration", target.ID, target.PeerAddr))
		return
	}

	cl := c.m.cluster
	switch {
	case target.ID != c.m.self && (cl.IsLeader() || c.m.peers.Forwarded(r)):
		// Here, on the leader (or where a member sent it): carry it out.
	case target.ID == c.m.self && cl.IsLeader():
		if err := cl.TransferLeadership(r.Context(), 0); err != nil {
			consulRaftError(w, r, "hand leadership away before removing this server", err)
			return
		}
		c.forwardToLeader(w, r)
		return
	default:
		c.forwardToLeader(w, r)
		return
	}

	audit.SetTarget(r.Context(), fmt.Sprintf("raft peer %d (%s)", target.ID, target.PeerAddr))
	audit.SetParams(r.Context(), map[string]any{"id": target.ID, "address": target.PeerAddr, "name": target.Name, "voter": !target.Learner})
	if err := cl.RemoveMember(r.Context(), target.ID); err != nil {
		consulRaftError(w, r, fmt.Sprintf("remove server %d", target.ID), err)
		return
	}
	c.m.log.Warn("removed raft peer", "id", target.ID, "address", target.PeerAddr, "name", target.Name)
	w.WriteHeader(http.StatusOK) // Consul answers a removal with an empty 200
}

// forwardToLeader hands r to the leader, or answers Consul's "No cluster
// leader" when there is none (or when raft names this node, which has just
// stopped leading, so that a request never loops back to its sender).
func (c *consulAPI) forwardToLeader(w http.ResponseWriter, r *http.Request) {
	lead := c.m.cluster.Leader()
	if lead == 0 || lead == c.m.self {
		httpx.Error(w, r, http.StatusInternalServerError, consulNoLeaderMsg)
		return
	}
	c.m.peers.Forward(w, r, lead)
}

// transferLeader answers POST /v1/operator/raft/transfer-leader[?id=N]
// with {"Success":true} once the new leader has taken over. Without an id
// (or with an empty one, which Consul treats the same) the most caught-up
// other voter is chosen. Any member can run it: raft routes the request to
// the leader.
func (c *consulAPI) transferLeader(w http.ResponseWriter, r *http.Request) {
	cl := c.m.cluster
	var to uint64
	if raw := r.URL.Query().Get("id"); raw != "" {
		id, ok := parseServerID(w, r, raw)
		if !ok {
			return
		}
		target := memberWith(cl.Members(), func(m raft.Member) bool { return m.ID == id })
		if target.ID == 0 {
			httpx.Error(w, r, http.StatusNotFound, fmt.Sprintf("Failed to transfer Leader: id %q was not found in the Raft configuration", raw))
			return
		}
		if target.Learner {
			httpx.Error(w, r, http.StatusConflict, fmt.Sprintf("Failed to transfer Leader: server %d is not a voter", id))
			return
		}
		to = id
	}
	from := cl.Leader()
	audit.SetTarget(r.Context(), "raft leadership")
	audit.SetParams(r.Context(), map[string]any{"from": from, "to": to})
	if err := cl.TransferLeadership(r.Context(), to); err != nil {
		consulRaftError(w, r, "Failed to transfer Leader", err)
		return
	}
	lead := cl.Leader()
	audit.SetParams(r.Context(), map[string]any{"from": from, "to": lead, "requested": to})
	c.m.log.Info("raft leadership transferred", "from", from, "to", lead)
	httpx.JSON(w, http.StatusOK, consulTransferLeaderResponse{Success: true})
}

// parseServerID reads a Consul server ID, which in Trellis is the node id
// in decimal. A malformed one is answered with a 400.
func parseServerID(w http.ResponseWriter, r *http.Request, raw string) (uint64, bool) {
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		httpx.Error(w, r, http.StatusBadRequest, fmt.Sprintf("id %q is not a server ID: Trellis server IDs are node ids, positive integers", raw))
		return 0, false
	}
	return id, true
}

func memberWith(members []raft.Member, match func(raft.Member) bool) raft.Member {
	for _, m := range members {
		if match(m) {
			return m
		}
	}
	return raft.Member{}
}

func voters(members []raft.Member) int {
	n := 0
	for _, m := range members {
		if !m.Learner {
			n++
		}
	}
	return n
}

// consulRaftError answers a failed membership or leadership change. No
// leader is Consul's own 500; a cluster that cannot answer (no quorum,
// stopping) is 503; the rest are refusals of the request as it stands.
func consulRaftError(w http.ResponseWriter, r *http.Request, what string, err error) {
	status := http.StatusConflict
	switch {
	case errors.Is(err, raft.ErrNoLeader):
		httpx.Error(w, r, http.StatusInternalServerError, consulNoLeaderMsg)
		return
	case raft.IsUnavailable(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	case errors.Is(err, raft.ErrUnknownMember):
		status = http.StatusNotFound
	}
	httpx.Error(w, r, status, what+": "+err.Error())
}
