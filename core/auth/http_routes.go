package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

// AppVersion is what GET /api/auth/status reports as app_version. The
// trellis binary sets it to its build version before anything starts.
var AppVersion = "dev"

// MountRoutes mounts the session and user routes of every family on r.
// They sit outside Middleware: login, status and change-password are
// open (as etcdmonitor and CockroachDB have them), and the others check
// the session themselves, so mount them on the root router, not on the
// group that Middleware guards.
//
//	etcdmonitor  POST /api/auth/login, POST /api/auth/logout,
//	             GET /api/auth/status, POST /api/auth/change-password
//	CockroachDB  POST /api/v2/login/, POST /api/v2/logout/, GET /api/v2/sessions/
//	             (each also without the trailing slash)
//	users        GET|POST /api/auth/users, DELETE /api/auth/users/{name},
//	             PUT /api/auth/users/{name}/password, PUT /api/auth/users/{name}/roles,
//	             POST /api/auth/users/{name}/unlock (admin only)
func (s *Service) MountRoutes(r chi.Router) {
	r.Post("/api/auth/login", s.handleLogin)
	r.Post("/api/auth/logout", s.handleLogout)
	r.Get("/api/auth/status", s.handleStatus)
	r.Post("/api/auth/change-password", s.handleChangePassword)

	// CockroachDB's routes end in a slash; its clients send both forms.
	sessions := s.Require(PermRead)(http.HandlerFunc(s.handleV2Sessions))
	for _, slash := range []string{"", "/"} {
		r.Post("/api/v2/login"+slash, s.handleV2Login)
		r.Post("/api/v2/logout"+slash, s.handleV2Logout)
		r.Method(http.MethodGet, "/api/v2/sessions"+slash, sessions)
	}

	r.Route("/api/auth/users", func(r chi.Router) {
		r.Use(s.Require(PermAdmin))
		r.Get("/", s.handleListUsers)
		r.Post("/", s.handleCreateUser)
		r.Delete("/{name}", s.handleDeleteUser)
		r.Put("/{name}/password", s.handleSetPassword)
		r.Put("/{name}/roles", s.handleSetRoles)
		r.Post("/{name}/unlock", s.handleUnlock)
	})
}

// writeDecodeError answers a body DecodeJSON refused: 413 when it was too
// large, 400 when it was not acceptable JSON, in family f's format. An
// error of neither kind is a programming error (a bad decode target).
func writeDecodeError(w http.ResponseWriter, f httpx.Family, err error) {
	var bre *httpx.BadRequestError
	switch {
	case errors.Is(err, httpx.ErrTooLarge):
		httpx.ErrorFamily(w, f, http.StatusRequestEntityTooLarge, err.Error())
	case errors.As(err, &bre):
		httpx.ErrorFamily(w, f, http.StatusBadRequest, bre.Error())
	default:
		httpx.ErrorFamily(w, f, http.StatusInternalServerError, "internal error: decode request: "+err.Error())
	}
}

// unavailable reports errors that mean the cluster could not answer in
// time: no leader, a raft timeout, a stopping node, or the request's own
// deadline. They are 503s: the caller should retry, nothing is wrong with
// the request.
func unavailable(err error) bool {
	return raft.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// credentialFailure writes the answer to a failed password check in
// family f's format. A wrong user and a wrong password get the same
// status and body (msgInvalid); a locked account gets 401 as well, as
// etcdmonitor answers it, with the unlock time in the message and a
// Retry-After header.
func (s *Service) credentialFailure(w http.ResponseWriter, f httpx.Family, err error, msgInvalid string) {
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		secs := int(time.Until(locked.Until).Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if f == httpx.FamilyEtcdmonitor || f == httpx.FamilyCore {
			httpx.JSON(w, http.StatusUnauthorized, map[string]string{"error": locked.Error(), "code": "account_locked"})
			return
		}
		httpx.ErrorFamily(w, f, http.StatusUnauthorized, locked.Error())
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrUnknownUser):
		httpx.ErrorFamily(w, f, http.StatusUnauthorized, msgInvalid)
	case unavailable(err):
		httpx.ErrorFamily(w, f, http.StatusServiceUnavailable, "cluster unavailable, try again: "+err.Error())
	default:
		s.logger.Error("password check failed", "err", err)
		httpx.ErrorFamily(w, f, http.StatusInternalServerError, "internal error: "+err.Error())
	}
}

// noStore marks a response that carries a token or a password decision as
// not cacheable.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}
