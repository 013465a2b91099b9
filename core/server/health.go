package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

// HealthSource answers the health routes. The node implements it; every
// call gets a context with a healthCheckTimeout deadline, so a check that
// needs the cluster (a ReadIndex, a quorum) must respect ctx.
type HealthSource interface {
	// Ready reports whether the node can serve requests (joined, caught
	// up, has a leader): the readiness probe.
	Ready(ctx context.Context) error
	// NodeHealth reports whether this process is working (storage open,
	// raft loop alive): the liveness probe.
	NodeHealth(ctx context.Context) error
	// ClusterHealth reports whether the cluster has a leader and quorum.
	ClusterHealth(ctx context.Context) error
}

// healthCheckTimeout bounds one health check. Probes usually time out
// after a few seconds; answering 503 before they give up tells the
// operator more than a timeout does.
const healthCheckTimeout = 2 * time.Second

// mountHealth registers the core health routes, one set per API family
// that has them. HEAD is served too, for load balancers that probe with it.
func (s *Server) mountHealth(r chi.Router) {
	get := func(pattern string, h http.HandlerFunc) {
		r.Get(pattern, h)
		r.Head(pattern, h)
	}
	get("/admin/health", s.greptimeHealth)
	get("/health/ready", s.robustCheck("ready", "not_ready", "node is ready", HealthSource.Ready))
	get("/health/node", s.robustCheck("node", "unhealthy", "node is healthy", HealthSource.NodeHealth))
	get("/health/cluster", s.robustCheck("cluster", "unhealthy", "cluster is healthy", HealthSource.ClusterHealth))
	get("/cluster/healthy", s.robustLiveness)
	// CockroachDB routes end in a slash; clients send both forms.
	get("/api/v2/health", s.cockroachHealth)
	get("/api/v2/health/", s.cockroachHealth)
}

// check runs one health check under the deadline.
func (s *Server) check(r *http.Request, fn func(HealthSource, context.Context) error) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthCheckTimeout)
	defer cancel()
	return fn(s.health, ctx)
}

// greptimeHealth is GreptimeDB's GET /admin/health: text OK.
func (s *Server) greptimeHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.check(r, HealthSource.NodeHealth); err != nil {
		httpx.Text(w, http.StatusServiceUnavailable, "unhealthy: "+err.Error())
		return
	}
	httpx.Text(w, http.StatusOK, "OK")
}

// robustHealthData is RobustMQ's health payload.
type robustHealthData struct {
	Status    string `json:"status"`
	CheckType string `json:"check_type"`
	Message   string `json:"message"`
}

// robustHealthBody is the envelope RobustMQ's health routes use: unlike
// its other routes it has "message" and no "error", and it keeps code 0
// even on a 503 (the status says the rest).
type robustHealthBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// robustCheck serves RobustMQ's /health/{ready,node,cluster}.
func (s *Server) robustCheck(checkType, failStatus, okMsg string, fn func(HealthSource, context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := robustHealthData{Status: "ok", CheckType: checkType, Message: okMsg}
		status := http.StatusOK
		if err := s.check(r, fn); err != nil {
			data.Status, data.Message = failStatus, err.Error()
			status = http.StatusServiceUnavailable
		}
		httpx.JSON(w, status, robustHealthBody{Code: 0, Message: "success", Data: data})
	}
}

// robustLiveness serves RobustMQ's GET /cluster/healthy: data true or, on
// a 503, false with the reason in message.
func (s *Server) robustLiveness(w http.ResponseWriter, r *http.Request) {
	if err := s.check(r, HealthSource.NodeHealth); err != nil {
		httpx.JSON(w, http.StatusServiceUnavailable, robustHealthBody{Code: 0, Message: err.Error(), Data: false})
		return
	}
	httpx.JSON(w, http.StatusOK, robustHealthBody{Code: 0, Message: "success", Data: true})
}

// cockroachHealth is CockroachDB's GET /api/v2/health/: {} while the node
// is live; with ?ready=true the node must also be ready. Errors are plain
// text, as CockroachDB writes them.
func (s *Server) cockroachHealth(w http.ResponseWriter, r *http.Request) {
	wantReady := false
	if v := r.URL.Query().Get("ready"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpx.ErrorFamily(w, httpx.FamilyCockroach, http.StatusBadRequest,
				"invalid value for ready: "+strconv.Quote(v)+" is not a boolean")
			return
		}
		wantReady = b
	}
	if err := s.check(r, HealthSource.NodeHealth); err != nil {
		httpx.ErrorFamily(w, httpx.FamilyCockroach, http.StatusServiceUnavailable, "node is not healthy: "+err.Error())
		return
	}
	if wantReady {
		if err := s.check(r, HealthSource.Ready); err != nil {
			httpx.ErrorFamily(w, httpx.FamilyCockroach, http.StatusServiceUnavailable, "node is not ready: "+err.Error())
			return
		}
	}
	httpx.JSON(w, http.StatusOK, struct{}{})
}
