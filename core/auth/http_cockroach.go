package auth

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/trellis-cp/trellis/core/httpx"
)

// CockroachDB's Cluster API v2 login, logout and sessions. Errors are
// plain text with a trailing newline, as CockroachDB writes them with
// http.Error.

// cockroachAuthFailure is CockroachDB's own text for bad credentials
// (WebAuthenticationFailureMsg).
const cockroachAuthFailure = "the provided credentials did not match any account on the server"

// cockroachSessionHeader is where CockroachDB clients send the session.
const cockroachSessionHeader = "X-Cockroach-API-Session"

func cockroachError(w http.ResponseWriter, status int, msg string) {
	httpx.ErrorFamily(w, httpx.FamilyCockroach, status, msg)
}

// POST /api/v2/login/ with form fields username and password →
// {"session": token}. A missing username is 400, bad credentials 401. An
// account whose first-boot password must still be changed gets 403 and no
// session: the credentials were right, but the account may not log in
// until the change (CockroachDB itself answers an expired password with
// its generic 401; saying why is more useful and reveals nothing the
// etcdmonitor login does not).
func (s *Service) handleV2Login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			cockroachError(w, http.StatusRequestEntityTooLarge, "request body too large: limit is "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
			return
		}
		cockroachError(w, http.StatusBadRequest, "invalid form: "+err.Error())
		return
	}
	username := r.Form.Get("username")
	if username == "" {
		cockroachError(w, http.StatusBadRequest, "username not specified")
		return
	}
	res, err := s.Login(r.Context(), username, r.Form.Get("password"), r.RemoteAddr)
	noStore(w)
	if err != nil {
		s.credentialFailure(w, httpx.FamilyCockroach, err, cockroachAuthFailure)
		return
	}
	if res.MustChangePassword {
		cockroachError(w, http.StatusForbidden, ErrMustChangePassword.Error()+": change it with POST /api/auth/change-password")
		return
	}
	httpx.JSON(w, http.StatusOK, struct {
		Session string `json:"session"`
	}{res.Token})
}

// POST /api/v2/logout/ with the X-Cockroach-API-Session header →
// {"logged_out": true}. A missing, unknown or already closed session is
// 400, as in CockroachDB.
func (s *Service) handleV2Logout(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get(cockroachSessionHeader)
	if token == "" {
		token = TokenFromRequest(r)
	}
	if token == "" {
		cockroachError(w, http.StatusBadRequest, "invalid or unspecified session")
		return
	}
	switch err := s.Logout(r.Context(), token); {
	case err == nil:
	case errors.Is(err, ErrNoSession):
		cockroachError(w, http.StatusBadRequest, "invalid session")
		return
	case unavailable(err):
		cockroachError(w, http.StatusServiceUnavailable, "cluster unavailable, try again: "+err.Error())
		return
	default:
		s.logger.Error("logout failed", "err", err)
		cockroachError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	httpx.JSON(w, http.StatusOK, struct {
		LoggedOut bool `json:"logged_out"`
	}{true})
}

// Session status values, CockroachDB's serverpb.Session_Status.
const (
	v2SessionActive = 0
	v2SessionClosed = 1
)

// v2Session is one entry of sessions/, in CockroachDB's serverpb.Session
// field names (id is the raw 16-byte session id, base64 as encoding/json
// writes bytes; start and end are RFC 3339; status 0 is ACTIVE, 1 CLOSED).
// last_active and expires_at are Trellis's own additions.
type v2Session struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	ClientAddress string     `json:"client_address,omitempty"`
	Start         time.Time  `json:"start"`
	LastActive    time.Time  `json:"last_active,omitzero"`
	ExpiresAt     time.Time  `json:"expires_at,omitzero"`
	Status        int        `json:"status"`
	End           *time.Time `json:"end,omitempty"`
}

type v2SessionsError struct {
	NodeID  uint64 `json:"node_id,omitempty"`
	Message string `json:"message"`
}

// v2SessionsResponse is CockroachDB's listSessionsResp. next is a string
// continuation token there; here it is the decimal offset of the next
// page, to pass back as start, and it is absent on the last page.
type v2SessionsResponse struct {
	Sessions []v2Session       `json:"sessions"`
	Errors   []v2SessionsError `json:"errors"`
	Next     string            `json:"next,omitempty"`
}

// GET /api/v2/sessions/ (session with read): query username,
// exclude_closed_sessions, limit, start. An admin sees every session; any
// other user sees only their own, and asking for someone else's is 403.
func (s *Service) handleV2Sessions(w http.ResponseWriter, r *http.Request) {
	p := FromContext(r.Context())
	q := r.URL.Query()
	f := SessionFilter{Username: q.Get("username")}
	if !p.Can(PermAdmin) {
		if f.Username != "" && f.Username != p.Username {
			cockroachError(w, http.StatusForbidden, "user "+p.Username+" may only list their own sessions")
			return
		}
		f.Username = p.Username
	}
	if v := q.Get("exclude_closed_sessions"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			cockroachError(w, http.StatusBadRequest, "invalid value for exclude_closed_sessions: "+strconv.Quote(v)+" is not a boolean")
			return
		}
		f.ExcludeClosed = b
	}
	var ok bool
	if f.Limit, ok = queryCount(w, q.Get("limit"), "limit"); !ok {
		return
	}
	if f.Offset, ok = queryCount(w, q.Get("start"), "start"); !ok {
		return
	}
	list, next, err := s.Sessions(r.Context(), f)
	if err != nil {
		if unavailable(err) {
			cockroachError(w, http.StatusServiceUnavailable, "cluster unavailable, try again: "+err.Error())
			return
		}
		s.logger.Error("list sessions", "err", err)
		cockroachError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	resp := v2SessionsResponse{Sessions: make([]v2Session, 0, len(list)), Errors: []v2SessionsError{}}
	for _, sess := range list {
		resp.Sessions = append(resp.Sessions, toV2Session(sess))
	}
	if next > 0 {
		resp.Next = strconv.Itoa(next)
	}
	httpx.JSON(w, http.StatusOK, resp)
}

// queryCount parses an optional non-negative integer query value; it
// writes the 400 itself when the value is not one.
func queryCount(w http.ResponseWriter, v, name string) (int, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		cockroachError(w, http.StatusBadRequest, "invalid value for "+name+": "+strconv.Quote(v)+" is not a non-negative integer")
		return 0, false
	}
	return n, true
}

func toV2Session(sess Session) v2Session {
	id := sess.ID
	if raw, err := hex.DecodeString(sess.ID); err == nil {
		id = base64.StdEncoding.EncodeToString(raw)
	}
	out := v2Session{
		ID: id, Username: sess.Username, ClientAddress: sess.ClientAddr,
		Start: sess.CreatedAt, LastActive: sess.LastActive, ExpiresAt: sess.ExpiresAt, Status: v2SessionActive,
	}
	if sess.Closed {
		end := sess.ClosedAt
		out.Status, out.End = v2SessionClosed, &end
	}
	return out
}
