package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// Namespace is the store namespace auth keeps its records in.
const Namespace = "core.auth"

// Keys inside the namespace.
const (
	userPrefix    = "users/"
	sessionPrefix = "sessions/"
	lockPrefix    = "lockout/"
)

// InitialPasswordFile is written under the data dir on first boot when no
// admin password is configured.
const InitialPasswordFile = "initial-admin-password"

// Config is the auth section of the node config.
type Config struct {
	Enabled          bool
	AdminPassword    string
	LockoutThreshold int
	LockoutDuration  time.Duration
	SessionTTL       time.Duration
	// DataDir is where the initial admin password file goes.
	DataDir string
}

// Service is the node's view of users and sessions.
type Service struct {
	cfg    Config
	ns     *store.Namespace
	logger *slog.Logger

	routes routeTable

	mu       sync.RWMutex
	sessions map[string]*Session   // by session id
	users    map[string]*userEntry // by name; the request path reads this
	touched  map[string]time.Time

	// watchRev is the revision the cache watch has reached. A cache fill
	// read at a revision below it could resurrect what the watch already
	// removed (a logged-out session), so such fills are not kept.
	watchRev atomic.Int64
	// freshAt is when this node last proved it was current (fresh.go).
	freshAt atomic.Int64
	// opsEnabled is GET /api/auth/status's ops_enabled (ops.go).
	opsEnabled atomic.Bool

	stop   context.CancelFunc
	wg     sync.WaitGroup
	synced chan struct{}
}

// New returns a service on the given namespace (core.auth).
func New(cfg Config, ns *store.Namespace, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{cfg: cfg, ns: ns, logger: logger.With("module", "auth"),
		sessions: map[string]*Session{}, users: map[string]*userEntry{}, touched: map[string]time.Time{}, synced: make(chan struct{})}
}

// Enabled reports whether requests are checked at all.
func (s *Service) Enabled() bool { return s.cfg.Enabled }

// Start creates the first admin if the cluster has none and starts the
// watch that keeps this node's session cache fresh. It returns at once;
// the bootstrap retries in the background until the cluster can commit.
func (s *Service) Start(ctx context.Context) error {
	if !s.cfg.Enabled {
		s.logger.Warn("AUTHENTICATION IS DISABLED (auth.enabled: false): every request is treated as admin; never run like this outside development")
		close(s.synced)
		return nil
	}
	ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.bootstrapLoop(ctx) }()
	go func() { defer s.wg.Done(); s.watchLoop(ctx) }()
	go func() { defer s.wg.Done(); s.freshLoop(ctx) }()
	return nil
}

// Stop ends the background work.
func (s *Service) Stop() {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
}

func (s *Service) bootstrapLoop(ctx context.Context) {
	for {
		err := s.bootstrap(ctx)
		if err == nil {
			return
		}
		s.logger.Debug("first-boot admin not settled yet, retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// bootstrap creates user admin if no user exists under that name. With
// auth.admin_password empty, the password is random, written to
// <data_dir>/initial-admin-password (0600) and must be changed at first
// login. Every node tries; a create-if-absent transaction lets one win.
func (s *Service) bootstrap(ctx context.Context) error {
	if _, err := s.ns.Get(ctx, userPrefix+"admin", store.ReadOptions{}); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	password, must := s.cfg.AdminPassword, false
	if password == "" {
		var err error
		if password, err = RandomPassword(16); err != nil {
			return err
		}
		must = true
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	u := User{Name: "admin", PasswordHash: hash, Roles: []Role{RoleAdmin}, Superuser: true, MustChangePassword: must, CreatedAt: now, UpdatedAt: now}
	// The password is on disk (under a pending name) before admin can
	// exist, so a crash between the two never loses it; the node whose
	// create wins renames it into place, the others drop theirs.
	path := filepath.Join(s.cfg.DataDir, InitialPasswordFile)
	pending := path + ".pending"
	if must {
		if err := os.WriteFile(pending, []byte(password+"\n"), 0o600); err != nil {
			return fmt.Errorf("auth: write %s: %w", pending, err)
		}
		defer os.Remove(pending)
	}
	created, err := s.createUser(ctx, u)
	if err != nil || !created {
		return err
	}
	if must {
		if err := os.Rename(pending, path); err != nil {
			return fmt.Errorf("auth: write %s: %w", path, err)
		}
	}
	if !must {
		s.logger.Info("created user admin with the configured auth.admin_password")
		return nil
	}
	s.logger.Warn("created user admin with a random password; it must be changed at first login", "password_file", path)
	return nil
}

func (s *Service) createUser(ctx context.Context, u User) (bool, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return false, err
	}
	key := userPrefix + u.Name
	op, err := s.ns.PutOp(key, b, store.PutOptions{})
	if err != nil {
		return false, err
	}
	res, err := s.ns.Txn(ctx, []store.Compare{s.ns.CmpNumber(key, store.CompareVersion, store.Equal, 0)}, []store.Op{op}, nil)
	if err != nil {
		return false, err
	}
	return res.Succeeded, nil
}

// watchLoop keeps the session cache in step with the store: every change
// to a session (logout, expiry) reaches every node's cache, and the
// initial-password file goes away once admin has changed it.
func (s *Service) watchLoop(ctx context.Context) {
	from := int64(0)
	first := true
	for ctx.Err() == nil {
		if from == 0 {
			s.watchRev.Store(s.ns.Store().Revision())
		}
		ch, err := s.ns.Watch(ctx, "", from)
		if err != nil {
			// Compacted past our position: drop the cache and restart.
			s.resetCache()
			from = 0
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if first {
			close(s.synced)
			first = false
		}
		for resp := range ch {
			if resp.Err != nil {
				s.resetCache()
				from = 0
				break
			}
			for _, ev := range resp.Events {
				s.apply(ev)
				from = ev.KV.ModRevision + 1
				s.watchRev.Store(ev.KV.ModRevision)
			}
		}
	}
}

func (s *Service) resetCache() {
	s.mu.Lock()
	s.sessions = map[string]*Session{}
	s.users = map[string]*userEntry{}
	s.mu.Unlock()
}

func (s *Service) apply(ev store.Event) {
	switch {
	case len(ev.KV.Key) > len(sessionPrefix) && ev.KV.Key[:len(sessionPrefix)] == sessionPrefix:
		id := ev.KV.Key[len(sessionPrefix):]
		s.mu.Lock()
		if ev.Type == store.EventPut {
			var sess Session
			if json.Unmarshal(ev.KV.Value, &sess) == nil {
				s.sessions[id] = &sess
			}
		} else {
			delete(s.sessions, id)
			delete(s.touched, id)
		}
		s.mu.Unlock()
	case strings.HasPrefix(ev.KV.Key, userPrefix):
		name := ev.KV.Key[len(userPrefix):]
		var u User
		s.mu.Lock()
		if ev.Type == store.EventPut && json.Unmarshal(ev.KV.Value, &u) == nil {
			s.users[name] = &userEntry{u: &u, createRev: ev.KV.CreateRevision, modRev: ev.KV.ModRevision}
		} else {
			delete(s.users, name)
		}
		s.mu.Unlock()
		if name == "admin" && ev.Type == store.EventPut && !u.MustChangePassword {
			os.Remove(filepath.Join(s.cfg.DataDir, InitialPasswordFile))
		}
	}
}

// fillable reports whether data read at or after readRev may enter the
// cache (see watchRev).
func (s *Service) fillable(readRev int64) bool { return readRev >= s.watchRev.Load() }
