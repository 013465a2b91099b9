package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

func validUsername(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return false
		}
	}
	return true
}

// GetUser reads a user linearizably.
func (s *Service) GetUser(ctx context.Context, name string) (*User, error) {
	u, _, err := s.getUser(ctx, name, store.ReadOptions{})
	return u, err
}

func (s *Service) getUser(ctx context.Context, name string, o store.ReadOptions) (*User, int64, error) {
	if !validUsername(name) {
		return nil, 0, ErrUnknownUser
	}
	kv, err := s.ns.Get(ctx, userPrefix+name, o)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, ErrUnknownUser
	}
	if err != nil {
		return nil, 0, err
	}
	var u User
	if err := json.Unmarshal(kv.Value, &u); err != nil {
		return nil, 0, fmt.Errorf("auth: decode user %s: %w", name, err)
	}
	return &u, kv.ModRevision, nil
}

// cachedUser reads a user from this node's state (serializable): the
// request path checks roles without a raft round trip.
func (s *Service) cachedUser(ctx context.Context, name string) (*User, error) {
	s.mu.RLock()
	u := s.users[name]
	s.mu.RUnlock()
	if u != nil {
		return u, nil
	}
	readRev := s.ns.Store().Revision()
	u, _, err := s.getUser(ctx, name, store.ReadOptions{Serializable: true})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.fillable(readRev) {
		s.users[name] = u
	}
	s.mu.Unlock()
	return u, nil
}

// ListUsers returns every user without password hashes.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	res, err := s.ns.List(ctx, userPrefix, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(res.KVs))
	for _, kv := range res.KVs {
		var u User
		if json.Unmarshal(kv.Value, &u) == nil {
			out = append(out, u.Public())
		}
	}
	return out, nil
}

// CreateUser adds a user; ErrUserExists when the name is taken.
func (s *Service) CreateUser(ctx context.Context, u User, password string) error {
	if !validUsername(u.Name) {
		return ErrBadUsername
	}
	if err := checkNewPassword(password); err != nil {
		return err
	}
	if len(u.Roles) == 0 {
		u.Roles = []Role{RoleViewer}
	}
	for _, r := range u.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return err
		}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	u.PasswordHash, u.CreatedAt, u.UpdatedAt = hash, now, now
	created, err := s.createUser(ctx, u)
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("%w: %s", ErrUserExists, u.Name)
	}
	return nil
}

// update applies fn to a user with compare-and-swap on its revision.
func (s *Service) update(ctx context.Context, name string, fn func(*User) error) error {
	for attempt := 0; attempt < 5; attempt++ {
		u, rev, err := s.getUser(ctx, name, store.ReadOptions{})
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
		u.UpdatedAt = time.Now().UTC()
		b, _ := json.Marshal(u)
		key := userPrefix + name
		op, _ := s.ns.PutOp(key, b, store.PutOptions{})
		res, err := s.ns.Txn(ctx, []store.Compare{s.ns.CmpNumber(key, store.CompareModRevision, store.Equal, rev)}, []store.Op{op}, nil)
		if err != nil {
			return err
		}
		if res.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("auth: user %s changed concurrently, try again", name)
}

// SetPassword replaces a user's password (admin action: no old password).
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := checkNewPassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.update(ctx, name, func(u *User) error {
		u.PasswordHash, u.MustChangePassword = hash, false
		return nil
	})
}

// ChangePassword is the user's own change: the old password is checked
// under the lockout rules, and the forced first-login change clears.
func (s *Service) ChangePassword(ctx context.Context, name, oldPassword, newPassword string) error {
	if err := checkNewPassword(newPassword); err != nil {
		return err
	}
	if oldPassword == newPassword {
		return ErrSamePassword
	}
	if _, err := s.checkPassword(ctx, name, oldPassword); err != nil {
		return err
	}
	return s.SetPassword(ctx, name, newPassword)
}

// SetRoles replaces a user's roles; the last admin cannot lose admin.
func (s *Service) SetRoles(ctx context.Context, name string, roles []Role) error {
	if len(roles) == 0 {
		return fmt.Errorf("%w: at least one role is required", ErrBadRole)
	}
	for _, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return err
		}
	}
	if !slices.Contains(roles, RoleAdmin) {
		if err := s.checkNotLastAdmin(ctx, name); err != nil {
			return err
		}
	}
	return s.update(ctx, name, func(u *User) error { u.Roles = roles; return nil })
}

// DeleteUser removes a user and closes nothing else: its sessions stop
// working because Authenticate no longer finds the user.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if _, err := s.GetUser(ctx, name); err != nil {
		return err
	}
	if err := s.checkNotLastAdmin(ctx, name); err != nil {
		return err
	}
	_, err := s.ns.Delete(ctx, userPrefix+name)
	return err
}

func (s *Service) checkNotLastAdmin(ctx context.Context, name string) error {
	users, err := s.ListUsers(ctx)
	if err != nil {
		return err
	}
	admins, target := 0, false
	for _, u := range users {
		if slices.Contains(u.Roles, RoleAdmin) {
			admins++
			if u.Name == name {
				target = true
			}
		}
	}
	if target && admins == 1 {
		return ErrLastAdmin
	}
	return nil
}
