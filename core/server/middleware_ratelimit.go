package server

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/trellis-cp/trellis/core/httpx"
)

// rateLimited reports whether path counts against the node's request rate.
// Health probes do not: a load balancer must still see a node that is busy
// turning clients away as alive.
func rateLimited(path string) bool {
	switch path {
	case "/admin/health", "/cluster/healthy", "/api/v2/health", "/api/v2/health/":
		return false
	}
	return !strings.HasPrefix(path, "/health/")
}

// newLimiter is the node-wide token bucket for Options.RateLimit requests
// per second with RateBurst; nil when the limit is off.
func newLimiter(perSecond float64, burst int) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
}

// limitRate answers 429 Too Many Requests, in the family's format and with
// Retry-After, once the node serves more than Options.RateLimit requests
// per second (RobustMQ's cluster_limit.max_admin_http_uri_rate). It sits
// before auth and the handlers so a flood costs as little as possible, and
// before the audit log so a flood cannot wash real entries out of it.
func (s *Server) limitRate(next http.Handler) http.Handler {
	lim := s.limiter
	if lim == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rateLimited(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		res := lim.Reserve()
		delay := res.Delay()
		if !res.OK() || delay > 0 {
			// Give the token back: a refused request must not delay the
			// next one further.
			res.Cancel()
			if !res.OK() || delay == rate.InfDuration {
				delay = time.Second
			}
			secs := max(1, int(math.Ceil(delay.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			httpx.Error(w, r, http.StatusTooManyRequests,
				fmt.Sprintf("rate limit exceeded: this node serves %g requests per second; retry after %ds", float64(lim.Limit()), secs))
			return
		}
		next.ServeHTTP(w, r)
	})
}
