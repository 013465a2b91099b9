package auth

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/trellis-cp/trellis/core/httpx"
)

// etcdmonitor's login, logout, status and change-password, shaped so that
// its web frontend works unchanged: it reads session_token and
// must_change_password from the login answer, sends the token as
// Authorization: Bearer, and shows the "error" of any failure.

const msgInvalidCredentials = "invalid username or password"

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// loginResponse is etcdmonitor's successful login. ExpiresAt is unix
// seconds, 0 for a session that never expires.
type loginResponse struct {
	Username           string `json:"username"`
	ExpiresAt          int64  `json:"expires_at"`
	SessionToken       string `json:"session_token"`
	MustChangePassword bool   `json:"must_change_password"`
	Authenticated      bool   `json:"authenticated"`
}

// mustChangeResponse is etcdmonitor's answer to right credentials whose
// password must be changed first: no session.
type mustChangeResponse struct {
	Username           string `json:"username"`
	MustChangePassword bool   `json:"must_change_password"`
	Authenticated      bool   `json:"authenticated"`
}

type messageResponse struct {
	Message string `json:"message"`
}

// POST /api/auth/login {username, password}.
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		writeDecodeError(w, httpx.FamilyEtcdmonitor, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		httpx.ErrorFamily(w, httpx.FamilyEtcdmonitor, http.StatusBadRequest, "username and password required")
		return
	}
	res, err := s.Login(r.Context(), req.Username, req.Password, r.RemoteAddr)
	noStore(w)
	if err != nil {
		s.credentialFailure(w, httpx.FamilyEtcdmonitor, err, msgInvalidCredentials)
		return
	}
	if res.MustChangePassword {
		httpx.JSON(w, http.StatusOK, mustChangeResponse{Username: req.Username, MustChangePassword: true})
		return
	}
	var expires int64
	if !res.Session.ExpiresAt.IsZero() {
		expires = res.Session.ExpiresAt.Unix()
	}
	setSessionCookie(w, r, res.Token, res.Session.ExpiresAt)
	httpx.JSON(w, http.StatusOK, loginResponse{
		Username: res.Session.Username, ExpiresAt: expires, SessionToken: res.Token, Authenticated: true,
	})
}

// setSessionCookie lets a browser carry the session without script: the
// cookie is HttpOnly and SameSite=Strict (so another site cannot make the
// browser send it), Secure over TLS. A session that never expires gets a
// ten-year cookie, as etcdmonitor does.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	c := &http.Cookie{
		Name: CookieName, Value: token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
	if expires.IsZero() {
		c.MaxAge = 10 * 365 * 24 * 3600
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// POST /api/auth/logout with the session token (any of the places
// TokenFromRequest looks). etcdmonitor serves it behind its session check,
// so a missing or dead session is a 401; the session cookie is cleared
// either way.
func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	clearSessionCookie(w, r)
	token := TokenFromRequest(r)
	err := s.Logout(r.Context(), token)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoSession):
		if s.Enabled() {
			httpx.ErrorCode(w, r, http.StatusUnauthorized, "unauthorized", "authentication required: "+ErrNoSession.Error())
			return
		}
	case unavailable(err):
		httpx.ErrorFamily(w, httpx.FamilyEtcdmonitor, http.StatusServiceUnavailable, "cluster unavailable, try again: "+err.Error())
		return
	default:
		s.logger.Error("logout failed", "err", err)
		httpx.ErrorFamily(w, httpx.FamilyEtcdmonitor, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	httpx.JSON(w, http.StatusOK, messageResponse{Message: "logged out"})
}

// statusResponse is etcdmonitor's GET /api/auth/status. Username and
// ExpiresAt are present only when the caller is authenticated; ExpiresAt
// is unix seconds, 0 for a session that never expires.
type statusResponse struct {
	AuthRequired        bool   `json:"auth_required"`
	Authenticated       bool   `json:"authenticated"`
	Username            string `json:"username,omitempty"`
	ExpiresAt           *int64 `json:"expires_at,omitempty"`
	InitialSetupPending bool   `json:"initial_setup_pending"`
	AppVersion          string `json:"app_version"`
	OpsEnabled          bool   `json:"ops_enabled"`
}

// GET /api/auth/status: open; says whether the caller's token (if any) is
// a live session. It answers 200 for a missing or dead token, as
// etcdmonitor does, and 503 only when the cluster cannot tell.
func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	resp := statusResponse{
		AuthRequired:        s.Enabled(),
		InitialSetupPending: s.initialSetupPending(r),
		AppVersion:          AppVersion,
		OpsEnabled:          s.OpsEnabled(),
	}
	p, err := s.Authenticate(r.Context(), TokenFromRequest(r))
	switch {
	case err == nil:
		var expires int64
		if !p.ExpiresAt.IsZero() {
			expires = p.ExpiresAt.Unix()
		}
		resp.Authenticated, resp.Username, resp.ExpiresAt = true, p.Username, &expires
	case unavailable(err):
		httpx.ErrorFamily(w, httpx.FamilyEtcdmonitor, http.StatusServiceUnavailable, "cannot check the session: "+err.Error())
		return
	}
	noStore(w)
	httpx.JSON(w, http.StatusOK, resp)
}

// initialSetupPending reports whether admin still has its first-boot
// password. etcdmonitor looks for the initial-admin-password file, which
// only the node that created admin has; the user record answers the same
// on every node, and the file is the fallback when it cannot be read.
func (s *Service) initialSetupPending(r *http.Request) bool {
	if !s.Enabled() {
		return false
	}
	if e, err := s.cachedUser(r.Context(), "admin"); err == nil {
		return e.u.MustChangePassword
	}
	_, err := os.Stat(filepath.Join(s.cfg.DataDir, InitialPasswordFile))
	return err == nil
}

type changePasswordRequest struct {
	Username    string `json:"username"`
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// POST /api/auth/change-password {username, old_password, new_password}:
// open (the old password is the credential), counted towards the lockout
// like a login, and the way out of the forced first-login change.
func (s *Service) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	var req changePasswordRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		writeDecodeError(w, httpx.FamilyEtcdmonitor, err)
		return
	}
	if req.Username == "" || req.OldPassword == "" || req.NewPassword == "" {
		httpx.ErrorFamily(w, httpx.FamilyEtcdmonitor, http.StatusBadRequest, "username, old_password and new_password required")
		return
	}
	err := s.ChangePassword(r.Context(), req.Username, req.OldPassword, req.NewPassword)
	noStore(w)
	switch {
	case err == nil:
		httpx.JSON(w, http.StatusOK, messageResponse{Message: "password changed; log in with the new password"})
	case errors.Is(err, ErrWeakPassword), errors.Is(err, ErrSamePassword):
		httpx.ErrorFamily(w, httpx.FamilyEtcdmonitor, http.StatusBadRequest, err.Error())
	default:
		s.credentialFailure(w, httpx.FamilyEtcdmonitor, err, msgInvalidCredentials)
	}
}
