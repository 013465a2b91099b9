package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// LoginResult is what a successful password check gives.
type LoginResult struct {
	// Token is empty when MustChangePassword is set: no session is made
	// until the password is changed (etcdmonitor's first-login rule).
	Token              string
	Session            *Session
	MustChangePassword bool
}

// closedRetention is how long a logged-out session stays listed.
const closedRetention = 24 * time.Hour

// Login checks a password and opens a session. A wrong user and a wrong
// password fail the same way and take the same time; failures count
// towards the cluster-wide lockout.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (*LoginResult, error) {
	e, err := s.checkPassword(ctx, username, password)
	if err != nil {
		return nil, err
	}
	u := e.u
	if u.MustChangePassword {
		return &LoginResult{MustChangePassword: true}, nil
	}
	token, id, secretHash, err := newToken()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	sess := &Session{ID: id, Username: u.Name, SecretHash: secretHash, CreatedAt: now, ClientAddr: clientAddr, LastActive: now,
		UserRev: e.createRev, PasswordVersion: u.PasswordVersion}
	opts := store.PutOptions{}
	if s.cfg.SessionTTL > 0 {
		sess.ExpiresAt = now.Add(s.cfg.SessionTTL)
		opts.TTL = s.cfg.SessionTTL
	}
	if err := s.putSession(ctx, sess, opts); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.sessions[id] = sess
	s.mu.Unlock()
	return &LoginResult{Token: token, Session: sess}, nil
}

func (s *Service) putSession(ctx context.Context, sess *Session, opts store.PutOptions) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	if _, err := s.ns.Put(ctx, sessionPrefix+sess.ID, b, opts); err != nil {
		return fmt.Errorf("auth: store session: %w", err)
	}
	return nil
}

// checkPassword verifies credentials under the lockout rules and returns
// the user. Shared by login and change-password, as etcdmonitor does.
func (s *Service) checkPassword(ctx context.Context, username, password string) (*userEntry, error) {
	lock, lockRev, err := s.readLock(ctx, username)
	if err != nil {
		return nil, err
	}
	if time.Now().Before(lock.LockedUntil) {
		return nil, &LockedError{Until: lock.LockedUntil}
	}
	e, err := s.getUser(ctx, username, store.ReadOptions{})
	hash := dummyHash
	if err == nil {
		hash = e.u.PasswordHash
	} else if !errors.Is(err, ErrUnknownUser) {
		return nil, err
	}
	ok, verr := VerifyPassword(hash, password)
	if err == nil && verr == nil && ok {
		s.clearFailures(ctx, username, lock, lockRev)
		return e, nil
	}
	if locked, until := s.recordFailure(ctx, username); locked {
		return nil, &LockedError{Until: until}
	}
	return nil, ErrInvalidCredentials
}

// Logout closes the session behind a token on every node at once: the
// closed record replicates, and each node's watch updates its cache.
func (s *Service) Logout(ctx context.Context, token string) error {
	sess, err := s.lookup(ctx, token)
	if err != nil {
		return err
	}
	closed := *sess
	closed.Closed = true
	closed.ClosedAt = time.Now().UTC()
	if err := s.putSession(ctx, &closed, store.PutOptions{TTL: closedRetention}); err != nil {
		return err
	}
	s.mu.Lock()
	s.sessions[sess.ID] = &closed
	s.mu.Unlock()
	return nil
}

// Authenticate turns a token into a principal. On a warm session it reads
// only this node's memory: no raft round trip, no disk.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if !s.cfg.Enabled {
		return &Principal{Username: "anonymous", Roles: []Role{RoleAdmin}, Superuser: true}, nil
	}
	memo := memoFrom(ctx)
	if memo != nil && token != "" {
		if p := memo.get(token); p != nil {
			return p, nil
		}
	}
	p, err := s.authenticate(ctx, token)
	if err == nil && memo != nil {
		memo.put(token, p)
	}
	return p, err
}

func (s *Service) authenticate(ctx context.Context, token string) (*Principal, error) {
	sess, err := s.lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	e, err := s.cachedUser(ctx, sess.Username)
	if err != nil {
		if errors.Is(err, ErrUnknownUser) {
			return nil, ErrNoSession
		}
		return nil, err
	}
	// A session belongs to the user as it was at login: not to a later
	// user of the same name, and not across a password change.
	if e.createRev != sess.UserRev || e.u.PasswordVersion != sess.PasswordVersion {
		return nil, ErrNoSession
	}
	u := e.u
	return &Principal{Username: u.Name, Roles: u.Roles, Superuser: u.Superuser, SessionID: sess.ID, ExpiresAt: sess.ExpiresAt}, nil
}

// lookup finds the live session for a token.
func (s *Service) lookup(ctx context.Context, token string) (*Session, error) {
	id, secretHash, ok := parseToken(token)
	if !ok {
		return nil, ErrNoSession
	}
	var sess *Session
	if s.trusted(ctx) {
		s.mu.RLock()
		sess = s.sessions[id]
		s.mu.RUnlock()
	}
	if sess == nil {
		// First use on this node: one linearizable read, so a token made
		// on another node a moment ago is found here too.
		readRev := s.ns.Store().Revision()
		kv, err := s.ns.Get(ctx, sessionPrefix+id, store.ReadOptions{})
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, ErrNoSession
			}
			return nil, err
		}
		var loaded Session
		if err := json.Unmarshal(kv.Value, &loaded); err != nil {
			return nil, ErrNoSession
		}
		s.markFresh()
		sess = &loaded
		s.mu.Lock()
		if s.fillable(readRev) {
			s.sessions[id] = sess
		}
		s.mu.Unlock()
	}
	if subtle.ConstantTimeCompare([]byte(sess.SecretHash), []byte(secretHash)) != 1 || sess.Closed {
		return nil, ErrNoSession
	}
	if !sess.ExpiresAt.IsZero() && time.Now().After(sess.ExpiresAt) {
		return nil, ErrNoSession
	}
	s.touch(id)
	return sess, nil
}

// touch notes that a session was used, at most once a second so the hot
// path stays on the read lock.
func (s *Service) touch(id string) {
	now := time.Now()
	s.mu.RLock()
	fresh := now.Sub(s.touched[id]) < time.Second
	s.mu.RUnlock()
	if fresh {
		return
	}
	s.mu.Lock()
	s.touched[id] = now
	s.mu.Unlock()
}

// SessionFilter selects sessions for listing (CockroachDB's sessions/).
type SessionFilter struct {
	Username      string
	ExcludeClosed bool
	// Limit caps the page; 0 means no limit.
	Limit int
	// Offset skips that many sessions: pass the previous page's next.
	Offset int
}

// Sessions lists sessions oldest first and returns the offset of the next
// page (0 when this page is the last). Oldest first keeps offsets stable
// while a client pages: a login made meanwhile lands at the end instead of
// shifting every later page. Session secrets are cleared.
func (s *Service) Sessions(ctx context.Context, f SessionFilter) ([]Session, int, error) {
	res, err := s.ns.List(ctx, sessionPrefix, store.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	now := time.Now()
	var out []Session
	for _, kv := range res.KVs {
		var sess Session
		if json.Unmarshal(kv.Value, &sess) != nil {
			continue
		}
		if f.Username != "" && sess.Username != f.Username {
			continue
		}
		if !sess.ExpiresAt.IsZero() && now.After(sess.ExpiresAt) && !sess.Closed {
			sess.Closed, sess.ClosedAt = true, sess.ExpiresAt
		}
		if f.ExcludeClosed && sess.Closed {
			continue
		}
		s.mu.RLock()
		if t, ok := s.touched[sess.ID]; ok && t.After(sess.LastActive) {
			sess.LastActive = t.UTC()
		}
		s.mu.RUnlock()
		sess.SecretHash = ""
		out = append(out, sess)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return strings.Compare(out[i].ID, out[j].ID) < 0
	})
	if f.Offset > 0 {
		if f.Offset >= len(out) {
			return []Session{}, 0, nil
		}
		out = out[f.Offset:]
	}
	next := 0
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
		next = f.Offset + f.Limit
	}
	return out, next, nil
}
