package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// User administration for `trellis user` and operators: admin only, JSON
// in, JSON out, errors as {"error": msg}.

// userView is a user as the API shows it: never the password hash.
type userView struct {
	Name               string     `json:"name"`
	Roles              []Role     `json:"roles"`
	Tenant             string     `json:"tenant,omitempty"`
	Superuser          bool       `json:"superuser"`
	MustChangePassword bool       `json:"must_change_password"`
	LockedUntil        *time.Time `json:"locked_until,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

func (s *Service) view(ctx context.Context, u User) userView {
	v := userView{
		Name: u.Name, Roles: u.Roles, Tenant: u.Tenant, Superuser: u.Superuser,
		MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if v.Roles == nil {
		v.Roles = []Role{}
	}
	if until, locked := s.lockedUntil(ctx, u.Name); locked {
		v.LockedUntil = &until
	}
	return v
}

type createUserRequest struct {
	Name      string `json:"name"`
	Password  string `json:"password"`
	Roles     []Role `json:"roles"`
	Tenant    string `json:"tenant"`
	Superuser bool   `json:"superuser"`
}

type passwordRequest struct {
	Password string `json:"password"`
}

type rolesRequest struct {
	Roles []Role `json:"roles"`
}

func userError(w http.ResponseWriter, status int, msg string) {
	httpx.ErrorFamily(w, httpx.FamilyCore, status, msg)
}

// writeUserError maps the user store's errors onto statuses.
func (s *Service) writeUserError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownUser):
		userError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrUserExists), errors.Is(err, ErrLastAdmin), errors.Is(err, ErrConflict):
		userError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrBadRole), errors.Is(err, ErrWeakPassword), errors.Is(err, ErrBadUsername):
		userError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrKeyTooLarge), errors.Is(err, store.ErrValueTooLarge):
		userError(w, http.StatusBadRequest, err.Error())
	case unavailable(err):
		userError(w, http.StatusServiceUnavailable, "cluster unavailable, try again: "+err.Error())
	default:
		s.logger.Error("user administration failed", "err", err)
		userError(w, http.StatusInternalServerError, "internal error: "+err.Error())
	}
}

// respondUser answers with the user's current record.
func (s *Service) respondUser(w http.ResponseWriter, r *http.Request, status int, name string) {
	u, err := s.GetUser(r.Context(), name)
	if err != nil {
		s.writeUserError(w, err)
		return
	}
	httpx.JSON(w, status, s.view(r.Context(), *u))
}

// GET /api/auth/users → {"users": [...]}, in name order.
func (s *Service) handleListUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.ListUsers(r.Context())
	if err != nil {
		s.writeUserError(w, err)
		return
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, s.view(r.Context(), u))
	}
	httpx.JSON(w, http.StatusOK, struct {
		Users []userView `json:"users"`
	}{out})
}

// POST /api/auth/users {name, password, roles, tenant?, superuser?} → 201
// with the new user. Roles default to viewer.
func (s *Service) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		writeDecodeError(w, httpx.FamilyCore, err)
		return
	}
	switch {
	case req.Name == "":
		userError(w, http.StatusBadRequest, "name: required")
		return
	case req.Password == "":
		userError(w, http.StatusBadRequest, "password: required")
		return
	}
	u := User{Name: req.Name, Roles: req.Roles, Tenant: req.Tenant, Superuser: req.Superuser}
	if err := s.CreateUser(r.Context(), u, req.Password); err != nil {
		s.writeUserError(w, err)
		return
	}
	s.respondUser(w, r, http.StatusCreated, req.Name)
}

// DELETE /api/auth/users/{name} → {"deleted": name}.
func (s *Service) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.DeleteUser(r.Context(), name); err != nil {
		s.writeUserError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]string{"deleted": name})
}

// PUT /api/auth/users/{name}/password {password} → the user. An admin
// reset: no old password, and it clears a forced first-login change.
func (s *Service) handleSetPassword(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	var req passwordRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		writeDecodeError(w, httpx.FamilyCore, err)
		return
	}
	if req.Password == "" {
		userError(w, http.StatusBadRequest, "password: required")
		return
	}
	if err := s.SetPassword(r.Context(), name, req.Password); err != nil {
		s.writeUserError(w, err)
		return
	}
	s.respondUser(w, r, http.StatusOK, name)
}

// PUT /api/auth/users/{name}/roles {roles} → the user. The roles replace
// the old ones; the last admin keeps admin.
func (s *Service) handleSetRoles(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	var req rolesRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		writeDecodeError(w, httpx.FamilyCore, err)
		return
	}
	if err := s.SetRoles(r.Context(), name, req.Roles); err != nil {
		s.writeUserError(w, err)
		return
	}
	s.respondUser(w, r, http.StatusOK, name)
}

// POST /api/auth/users/{name}/unlock → the user, no longer locked out.
func (s *Service) handleUnlock(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if _, err := s.GetUser(r.Context(), name); err != nil {
		s.writeUserError(w, err)
		return
	}
	if err := s.Unlock(r.Context(), name); err != nil {
		s.writeUserError(w, err)
		return
	}
	s.respondUser(w, r, http.StatusOK, name)
}
