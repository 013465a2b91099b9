// Package auth is Trellis's one session system for every API family: users
// with hashed passwords and roles, sessions whose tokens work on every node,
// cluster-wide lockout, and the middleware that answers 401 and 403 in each
// family's own format. Users, sessions and lockout counters live in the
// replicated store (namespace core.auth); token checks are served from a
// per-node cache kept fresh by a watch, so the read path never waits on raft.
package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Role is a named set of permissions.
type Role string

const (
	// RoleAdmin may do everything, including managing users.
	RoleAdmin Role = "admin"
	// RoleOperator may read, write and run cluster operations.
	RoleOperator Role = "operator"
	// RoleViewer may only read.
	RoleViewer Role = "viewer"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleOperator, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q (want admin, operator or viewer)", ErrBadRole, s)
}

// Permission is what a route needs. Consul's operator:read maps to
// PermRead and operator:write to PermOperator.
type Permission int

const (
	PermRead Permission = iota + 1
	PermWrite
	PermOperator
	PermAdmin
)

func (p Permission) String() string {
	switch p {
	case PermRead:
		return "read"
	case PermWrite:
		return "write"
	case PermOperator:
		return "operator"
	case PermAdmin:
		return "admin"
	}
	return "unknown"
}

func (r Role) grants(p Permission) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return p <= PermOperator
	case RoleViewer:
		return p == PermRead
	}
	return false
}

// User is a stored account. The tenant module exposes the same records as
// /api/cluster/user/*, hence Tenant and Superuser.
type User struct {
	Name               string `json:"name"`
	PasswordHash       string `json:"password_hash"`
	Roles              []Role `json:"roles"`
	Tenant             string `json:"tenant,omitempty"`
	Superuser          bool   `json:"superuser,omitempty"`
	MustChangePassword bool   `json:"must_change_password,omitempty"`
	// PasswordVersion counts password changes; sessions opened under an
	// older version no longer work.
	PasswordVersion int       `json:"password_version,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Public is the user without its password hash.
func (u User) Public() User {
	u.PasswordHash = ""
	return u
}

// Session is one login. The token itself is never stored: only the SHA-256
// of its secret half.
type Session struct {
	ID         string    `json:"id"`
	Username   string    `json:"username"`
	SecretHash string    `json:"secret_hash"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	ClientAddr string    `json:"client_addr,omitempty"`
	// UserRev and PasswordVersion tie the session to the user as it was
	// at login: the creation revision of the user record and its password
	// version.
	UserRev         int64     `json:"user_rev"`
	PasswordVersion int       `json:"password_version,omitempty"`
	Closed          bool      `json:"closed,omitempty"`
	ClosedAt        time.Time `json:"closed_at,omitzero"`
	LastActive      time.Time `json:"last_active,omitzero"`
}

// Principal is who is calling, as the middleware found out.
type Principal struct {
	Username  string
	Roles     []Role
	Superuser bool
	SessionID string
	ExpiresAt time.Time
}

// Can reports whether the principal holds permission p.
func (p *Principal) Can(perm Permission) bool {
	if p == nil {
		return false
	}
	if p.Superuser {
		return true
	}
	return slices.ContainsFunc(p.Roles, func(r Role) bool { return r.grants(perm) })
}

var (
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrMustChangePassword = errors.New("password must be changed before first login")
	ErrNoSession          = errors.New("missing or invalid session")
	ErrUserExists         = errors.New("user already exists")
	ErrUnknownUser        = errors.New("unknown user")
	ErrBadRole            = errors.New("unknown role")
	ErrWeakPassword       = errors.New("password must be at least 8 characters")
	ErrSamePassword       = errors.New("new password must differ from the old one")
	ErrBadUsername        = errors.New("username must be 1-64 characters of letters, digits, '.', '_', '-' or '@'")
	ErrLastAdmin          = errors.New("cannot remove the last admin")
	ErrConflict           = errors.New("changed concurrently, try again")
)

// LockedError says an account is locked until a time.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("account locked after too many failed attempts; try again after %s", e.Until.UTC().Format(time.RFC3339))
}
