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

// userEntry is a user as cached: the record and the revision that created
// it. A session remembers the creation revision and password version of
// its user, so deleting and re-creating a name, or changing a password,
// ends every older session.
type userEntry struct {
	u         *User
	createRev int64
	modRev    int64
}

// GetUser reads a user linearizably.
func (s *Service) GetUser(ctx context.Context, name string) (*User, error) {
	e, err := s.getUser(ctx, name, store.ReadOptions{})
	if err != nil {
		return nil, err
	}
	return e.u, nil
}

func (s *Service) getUser(ctx context.Context, name string, o store.ReadOptions) (*userEntry, error) {
	if !validUsername(name) {
		return nil, ErrUnknownUser
	}
	kv, err := s.ns.Get(ctx, userPrefix+name, o)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownUser
	}
	if err != nil {
		return nil, err
	}
	return decodeUser(kv)
}

func decodeUser(kv *store.KV) (*userEntry, error) {
	var u User
	if err := json.Unmarshal(kv.Value, &u); err != nil {
		return nil, fmt.Errorf("auth: decode user %s: %w", kv.Key, err)
	}
	return &userEntry{u: &u, createRev: kv.CreateRevision, modRev: kv.ModRevision}, nil
}

// cachedUser serves the request path from memory while this node is known
// to be current (see fresh); otherwise it reads linearizably.
func (s *Service) cachedUser(ctx context.Context, name string) (*userEntry, error) {
	if s.trusted(ctx) {
		s.mu.RLock()
		e := s.users[name]
		s.mu.RUnlock()
		if e != nil {
			return e, nil
		}
	}
	readRev := s.ns.Store().Revision()
	e, err := s.getUser(ctx, name, store.ReadOptions{})
	if err != nil {
		return nil, err
	}
	s.markFresh()
	s.cacheUser(name, e, readRev)
	return e, nil
}

// cacheUser stores e unless the watch has already moved past readRev.
func (s *Service) cacheUser(name string, e *userEntry, readRev int64) {
	s.mu.Lock()
	if s.fillable(readRev) {
		s.users[name] = e
	}
	s.mu.Unlock()
}

// ListUsers returns every user without password hashes.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	entries, err := s.listUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.u.Public())
	}
	return out, nil
}

func (s *Service) listUsers(ctx context.Context) ([]*userEntry, error) {
	res, err := s.ns.List(ctx, userPrefix, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]*userEntry, 0, len(res.KVs))
	for _, kv := range res.KVs {
		if e, err := decodeUser(kv); err == nil {
			out = append(out, e)
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

// update applies fn to a user with compare-and-swap on its revision, plus
// the extra compares (used to keep at least one admin). The node's cache
// takes the result at once: read-your-writes on this node.
func (s *Service) update(ctx context.Context, name string, fn func(*User) error, guard func([]*userEntry) ([]store.Compare, error)) error {
	for attempt := 0; attempt < 5; attempt++ {
		e, err := s.getUser(ctx, name, store.ReadOptions{})
		if err != nil {
			return err
		}
		u := *e.u
		if err := fn(&u); err != nil {
			return err
		}
		u.UpdatedAt = time.Now().UTC()
		b, _ := json.Marshal(u)
		key := userPrefix + name
		op, _ := s.ns.PutOp(key, b, store.PutOptions{})
		cmps := []store.Compare{s.ns.CmpNumber(key, store.CompareModRevision, store.Equal, e.modRev)}
		if guard != nil {
			extra, err := s.guard(ctx, guard)
			if err != nil {
				return err
			}
			cmps = append(cmps, extra...)
		}
		res, err := s.ns.Txn(ctx, cmps, []store.Op{op}, nil)
		if err != nil {
			return err
		}
		if res.Succeeded {
			s.cacheUser(name, &userEntry{u: &u, createRev: e.createRev, modRev: res.Revision}, res.Revision)
			return nil
		}
	}
	return fmt.Errorf("%w: user %s", ErrConflict, name)
}

func (s *Service) guard(ctx context.Context, g func([]*userEntry) ([]store.Compare, error)) ([]store.Compare, error) {
	all, err := s.listUsers(ctx)
	if err != nil {
		return nil, err
	}
	return g(all)
}

// SetPassword replaces a user's password (admin action: no old password)
// and ends the user's existing sessions.
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
		u.PasswordVersion++
		return nil
	}, nil)
}

// ChangePassword is the user's own change: the old password is checked
// first, under the lockout rules, then the new one; the forced first-login
// change clears.
func (s *Service) ChangePassword(ctx context.Context, name, oldPassword, newPassword string) error {
	if _, err := s.checkPassword(ctx, name, oldPassword); err != nil {
		return err
	}
	if err := checkNewPassword(newPassword); err != nil {
		return err
	}
	if oldPassword == newPassword {
		return ErrSamePassword
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
	var guard func([]*userEntry) ([]store.Compare, error)
	if !slices.Contains(roles, RoleAdmin) {
		guard = s.keepAnAdmin(name)
	}
	return s.update(ctx, name, func(u *User) error { u.Roles = roles; return nil }, guard)
}

// DeleteUser removes a user; its sessions stop working at once because
// Authenticate no longer finds the user.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	for attempt := 0; attempt < 5; attempt++ {
		e, err := s.getUser(ctx, name, store.ReadOptions{})
		if err != nil {
			return err
		}
		key := userPrefix + name
		cmps := []store.Compare{s.ns.CmpNumber(key, store.CompareModRevision, store.Equal, e.modRev)}
		extra, err := s.guard(ctx, s.keepAnAdmin(name))
		if err != nil {
			return err
		}
		del, _ := s.ns.DeleteOp(key)
		res, err := s.ns.Txn(ctx, append(cmps, extra...), []store.Op{del}, nil)
		if err != nil {
			return err
		}
		if res.Succeeded {
			s.mu.Lock()
			delete(s.users, name)
			s.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("%w: user %s", ErrConflict, name)
}

// isAdmin: superusers and holders of the admin role manage users.
func isAdmin(u *User) bool { return u.Superuser || slices.Contains(u.Roles, RoleAdmin) }

// keepAnAdmin refuses a change that takes admin away from the last admin,
// and returns compares on every admin's revision so that two concurrent
// demotions cannot both pass this check.
func (s *Service) keepAnAdmin(name string) func([]*userEntry) ([]store.Compare, error) {
	return func(all []*userEntry) ([]store.Compare, error) {
		var cmps []store.Compare
		others := 0
		for _, e := range all {
			if !isAdmin(e.u) {
				continue
			}
			cmps = append(cmps, s.ns.CmpNumber(userPrefix+e.u.Name, store.CompareModRevision, store.Equal, e.modRev))
			if e.u.Name != name {
				others++
			}
		}
		if others == 0 {
			for _, e := range all {
				if e.u.Name == name && isAdmin(e.u) {
					return nil, ErrLastAdmin
				}
			}
		}
		return cmps, nil
	}
}
