package node

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

// Core membership routes. A new node calls POST /raft/join on any member;
// the others serve operators and the CLI. Every call needs either the
// cluster's raft.join_token in X-Trellis-Join-Token or an admin session:
// never nothing (with auth disabled and no token set, development mode, they
// are open).
const joinTokenHeader = "X-Trellis-Join-Token"

type joinRequest struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name"`
	PeerAddr string `json:"peer_addr"`
	HTTPAddr string `json:"http_addr"`
}

type membersResponse struct {
	Leader  uint64        `json:"leader"`
	Members []raft.Member `json:"members"`
}

func (n *Node) mountMembership(r chi.Router) {
	r.Route("/raft", func(r chi.Router) {
		r.Use(n.requireJoinToken)
		r.Get("/members", n.listMembers)
		r.Post("/join", n.handleJoin)
		r.Delete("/members/{id}", n.removeMember)
		r.Post("/transfer-leader", n.transferLeader)
	})
}

func (n *Node) requireJoinToken(next http.Handler) http.Handler {
	admin := n.auth.Require(auth.PermAdmin)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := n.cfg.Raft.JoinToken
		got := r.Header.Get(joinTokenHeader)
		switch {
		case want != "" && got != "":
			if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				httpx.Error(w, r, http.StatusUnauthorized, "wrong "+joinTokenHeader)
				return
			}
			next.ServeHTTP(w, r)
		case want == "" && !n.auth.Enabled():
			next.ServeHTTP(w, r)
		default:
			admin.ServeHTTP(w, r)
		}
	})
}

func (n *Node) listMembers(w http.ResponseWriter, r *http.Request) {
	rn := n.store.Raft()
	httpx.JSON(w, http.StatusOK, membersResponse{Leader: rn.Leader(), Members: rn.Members()})
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	serveJoin(w, r, n.store.Raft(), n.logger)
}

// memberAdder is the side of raft a join needs; *raft.Node is one.
type memberAdder interface {
	AddMember(ctx context.Context, m raft.Member) ([]raft.Member, error)
	Leader() uint64
}

// serveJoin answers POST /raft/join: the body is checked before anything
// is proposed, so a member that nobody could reach never enters the
// member table.
func serveJoin(w http.ResponseWriter, r *http.Request, rn memberAdder, logger *slog.Logger) {
	var req joinRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		writeDecodeError(w, r, err)
		return
	}
	if err := req.check(); err != nil {
		httpx.Error(w, r, http.StatusBadRequest, err.Error())
		return
	}
	members, err := rn.AddMember(r.Context(), raft.Member{ID: req.ID, Name: req.Name, PeerAddr: req.PeerAddr, HTTPAddr: req.HTTPAddr})
	if err != nil {
		writeRaftError(w, r, err)
		return
	}
	logger.Info("member joined as learner", "module", "raft", "id", req.ID, "peer_addr", req.PeerAddr)
	httpx.JSON(w, http.StatusOK, membersResponse{Leader: rn.Leader(), Members: members})
}

// check validates a join body: an id, a raft address the other members
// can dial (a host and a non-zero port), and an HTTP address, when given,
// of the form HOST:PORT (a joining node sends its listen address, which
// may leave the host empty; it announces the real one once running).
func (req *joinRequest) check() error {
	if req.ID == 0 {
		return errors.New("id: required, a positive integer")
	}
	if req.PeerAddr == "" {
		return errors.New("peer_addr: required")
	}
	if err := checkHostPort(req.PeerAddr, true); err != nil {
		return fmt.Errorf("peer_addr: %w", err)
	}
	if req.HTTPAddr != "" {
		if err := checkHostPort(req.HTTPAddr, false); err != nil {
			return fmt.Errorf("http_addr: %w", err)
		}
	}
	return nil
}

// checkHostPort checks a HOST:PORT address as the config does: a listen
// address may leave the host empty and use port 0; one that other nodes
// dial (dial true) needs both.
func checkHostPort(s string, dial bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || !utf8.ValidString(host) || strings.ContainsFunc(host, badHostRune) {
		return fmt.Errorf("%q is not HOST:PORT", s)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (port must be a number 0-65535)", s)
	}
	if dial && (host == "" || p == 0) {
		return fmt.Errorf("%q is not HOST:PORT (other nodes need a host and a non-zero port to reach it)", s)
	}
	return nil
}

// badHostRune: spaces, control characters and slashes have no place in a
// host name or address.
func badHostRune(r rune) bool {
	return r == ' ' || r == '/' || unicode.IsControl(r)
}

func (n *Node) removeMember(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id == 0 {
		httpx.Error(w, r, http.StatusBadRequest, "member id must be a positive integer")
		return
	}
	if err := n.store.Raft().RemoveMember(r.Context(), id); err != nil {
		writeRaftError(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"removed": id})
}

func (n *Node) transferLeader(w http.ResponseWriter, r *http.Request) {
	var to uint64
	if s := r.URL.Query().Get("to"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v == 0 { // 0 is no member; leaving to out means any voter
			httpx.Error(w, r, http.StatusBadRequest, "to must be a member id")
			return
		}
		to = v
	}
	if err := n.store.Raft().TransferLeadership(r.Context(), to); err != nil {
		writeRaftError(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"leader": n.store.Raft().Leader()})
}

func writeDecodeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, httpx.ErrTooLarge) {
		httpx.Error(w, r, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	httpx.Error(w, r, http.StatusBadRequest, err.Error())
}

// writeRaftError maps cluster errors onto status codes: unavailability is
// 503, unknown members 404, conflicts 409.
func writeRaftError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case raft.IsUnavailable(err):
		httpx.Error(w, r, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, raft.ErrUnknownMember):
		httpx.Error(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, raft.ErrMemberExists), errors.Is(err, raft.ErrLastVoter):
		httpx.Error(w, r, http.StatusConflict, err.Error())
	default:
		httpx.Error(w, r, http.StatusBadRequest, err.Error())
	}
}

// join asks a running member to add this node, retrying while the cluster
// is electing or unreachable, for up to a minute.
func (n *Node) join(ctx context.Context) ([]raft.Member, error) {
	target := n.cfg.Raft.Join
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	body, _ := json.Marshal(joinRequest{ID: n.cfg.Node.ID, Name: n.cfg.NodeName(), PeerAddr: n.cfg.RaftAdvertise(), HTTPAddr: n.cfg.HTTPAdvertise()})
	client := &http.Client{Timeout: 15 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		members, retry, err := n.joinOnce(ctx, client, target+"/raft/join", body)
		if err == nil {
			n.logger.Info("joined cluster", "module", "raft", "via", n.cfg.Raft.Join, "members", len(members))
			return members, nil
		}
		if !retry || time.Now().After(deadline) {
			return nil, fmt.Errorf("node: join via %s: %w", n.cfg.Raft.Join, err)
		}
		n.logger.Warn("join attempt failed, retrying", "module", "raft", "via", n.cfg.Raft.Join, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (n *Node) joinOnce(ctx context.Context, client *http.Client, url string, body []byte) ([]raft.Member, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := n.cfg.Raft.JoinToken; tok != "" {
		req.Header.Set(joinTokenHeader, tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		retry := resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode >= 500
		return nil, retry, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var out membersResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, false, fmt.Errorf("decode join answer: %w", err)
	}
	return out.Members, false, nil
}
