package auth

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/internal/storetest"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

const testAdminPassword = "auth-test-admin-pw"

func testLogger() *slog.Logger { return storetest.Logger() }

// openStore starts a real one-node store in a temp dir.
func openStore(t *testing.T) *store.Store { return storetest.Open(t) }

// newService starts a service on a fresh store. An empty AdminPassword
// in cfg means first boot with a random password; DataDir, Enabled and an
// unset lockout are filled in.
func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	st := openStore(t)
	ns, err := st.Namespace(Namespace)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Enabled = true
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.LockoutThreshold == 0 {
		cfg.LockoutThreshold = 5
	}
	if cfg.LockoutDuration == 0 {
		cfg.LockoutDuration = time.Minute
	}
	s := New(cfg, ns, testLogger())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	testutil.Eventually(t, 10*time.Second, "admin created", func() bool {
		_, err := s.GetUser(context.Background(), "admin")
		return err == nil
	})
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustLogin(t *testing.T, s *Service, user, pw string) string {
	t.Helper()
	res, err := s.Login(ctxT(t), user, pw, "127.0.0.1:1")
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	if res.MustChangePassword || res.Token == "" {
		t.Fatalf("login %s: no session (must change: %v)", user, res.MustChangePassword)
	}
	return res.Token
}

func TestLoginAuthenticateLogout(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword, SessionTTL: time.Hour})
	ctx := ctxT(t)
	tok := mustLogin(t, s, "admin", testAdminPassword)
	p, err := s.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Username != "admin" || !p.Can(PermAdmin) || p.ExpiresAt.IsZero() {
		t.Fatalf("principal %+v", p)
	}
	last := byte('A')
	if tok[len(tok)-1] == 'A' {
		last = 'B'
	}
	tampered := tok[:len(tok)-1] + string(last)
	for _, bad := range []string{"", "garbage", tampered, tok[:len(tok)-1]} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Fatalf("token %q: err = %v, want ErrNoSession", bad, err)
		}
	}
	if err := s.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after logout: %v", err)
	}
	if err := s.Logout(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := s.Login(ctx, "admin", "wrong-password", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Login(ctx, "nosuchuser", "wrong-password", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestFirstBootForcedChange(t *testing.T) {
	dir := t.TempDir()
	s := newService(t, Config{DataDir: dir, SessionTTL: time.Hour})
	ctx := ctxT(t)
	path := filepath.Join(dir, InitialPasswordFile)
	// The file is renamed into place just after admin's create commits.
	testutil.Eventually(t, 10*time.Second, "the initial password file", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("initial password file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	pw := string(raw[:len(raw)-1])
	if len(pw) != 16 || raw[len(raw)-1] != '\n' {
		t.Fatalf("initial password %q", raw)
	}
	res, err := s.Login(ctx, "admin", pw, "")
	if err != nil || !res.MustChangePassword || res.Token != "" || res.Session != nil {
		t.Fatalf("first login: %+v %v, want a forced change and no session", res, err)
	}
	if err := s.ChangePassword(ctx, "admin", "not-the-password", "new-admin-pw"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong old password: %v", err)
	}
	if err := s.ChangePassword(ctx, "admin", pw, pw); !errors.Is(err, ErrSamePassword) {
		t.Fatalf("same password: %v", err)
	}
	if err := s.ChangePassword(ctx, "admin", pw, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("short password: %v", err)
	}
	if err := s.ChangePassword(ctx, "admin", pw, "new-admin-pw"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "initial password file removed", func() bool {
		_, err := os.Stat(path)
		return errors.Is(err, os.ErrNotExist)
	})
	mustLogin(t, s, "admin", "new-admin-pw")
	if _, err := s.Login(ctx, "admin", pw, ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password after the change: %v", err)
	}
}

func TestLockout(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword, LockoutThreshold: 3, LockoutDuration: time.Second, SessionTTL: time.Hour})
	ctx := ctxT(t)
	if err := s.CreateUser(ctx, User{Name: "carol"}, "carol-password"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"carol", "ghost"} { // a real user and an unknown one lock alike
		for i := 1; i <= 3; i++ {
			_, err := s.Login(ctx, name, "wrong-password", "")
			var locked *LockedError
			if i < 3 && !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("%s failure %d: %v", name, i, err)
			}
			if i == 3 && !errors.As(err, &locked) {
				t.Fatalf("%s failure %d: %v, want locked", name, i, err)
			}
		}
		var locked *LockedError
		if _, err := s.Login(ctx, name, "carol-password", ""); !errors.As(err, &locked) || time.Until(locked.Until) <= 0 {
			t.Fatalf("%s while locked: %v", name, err)
		}
	}
	// Change-password shares the counter and the lock.
	var locked *LockedError
	if err := s.ChangePassword(ctx, "carol", "carol-password", "carol-password-2"); !errors.As(err, &locked) {
		t.Fatalf("change-password while locked: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "lock expires", func() bool {
		_, err := s.Login(ctx, "carol", "carol-password", "")
		return err == nil
	})
	// A success clears the counter: two more failures do not lock.
	for i := 0; i < 2; i++ {
		if _, err := s.Login(ctx, "carol", "wrong-password", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure after success: %v", err)
		}
	}
	mustLogin(t, s, "carol", "carol-password")

	// Unlock lifts a lock at once.
	for i := 0; i < 3; i++ {
		s.Login(ctx, "carol", "wrong-password", "")
	}
	if _, err := s.Login(ctx, "carol", "carol-password", ""); !errors.As(err, &locked) {
		t.Fatalf("not locked: %v", err)
	}
	if err := s.Unlock(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	mustLogin(t, s, "carol", "carol-password")
}

func TestSessionExpiry(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword, SessionTTL: 300 * time.Millisecond})
	ctx := ctxT(t)
	tok := mustLogin(t, s, "admin", testAdminPassword)
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "session expires", func() bool {
		_, err := s.Authenticate(ctx, tok)
		return errors.Is(err, ErrNoSession)
	})
}

func TestSessionsListing(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword, SessionTTL: time.Hour})
	ctx := ctxT(t)
	if err := s.CreateUser(ctx, User{Name: "dave"}, "dave-password"); err != nil {
		t.Fatal(err)
	}
	var daveTokens []string
	for i := 0; i < 5; i++ {
		daveTokens = append(daveTokens, mustLogin(t, s, "dave", "dave-password"))
	}
	mustLogin(t, s, "admin", testAdminPassword)
	if err := s.Logout(ctx, daveTokens[0]); err != nil {
		t.Fatal(err)
	}

	all, next, err := s.Sessions(ctx, SessionFilter{})
	if err != nil || next != 0 || len(all) != 6 {
		t.Fatalf("all sessions: %d, next %d, %v", len(all), next, err)
	}
	for i, sess := range all {
		if sess.SecretHash != "" {
			t.Fatal("listing leaks the secret hash")
		}
		if i > 0 && sess.CreatedAt.Before(all[i-1].CreatedAt) {
			t.Fatal("not oldest first")
		}
	}
	dave, _, _ := s.Sessions(ctx, SessionFilter{Username: "dave"})
	open, _, _ := s.Sessions(ctx, SessionFilter{Username: "dave", ExcludeClosed: true})
	if len(dave) != 5 || len(open) != 4 || !dave[0].Closed || dave[0].ClosedAt.IsZero() {
		t.Fatalf("dave: %d sessions, %d open, first %+v", len(dave), len(open), dave[0])
	}

	var paged []string
	offset := 0
	for pages := 0; ; pages++ {
		page, next, err := s.Sessions(ctx, SessionFilter{Limit: 4, Offset: offset})
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, sess := range page {
			paged = append(paged, sess.ID)
		}
		if next == 0 {
			break
		}
		if next != offset+len(page) {
			t.Fatalf("next %d after offset %d and %d sessions", next, offset, len(page))
		}
		offset = next
	}
	if len(paged) != len(all) {
		t.Fatalf("paging saw %d sessions, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i] != all[i].ID {
			t.Fatalf("paging order differs at %d", i)
		}
	}
	if page, next, err := s.Sessions(ctx, SessionFilter{Offset: 100}); err != nil || len(page) != 0 || next != 0 {
		t.Fatalf("offset past the end: %d %d %v", len(page), next, err)
	}
}

func TestUserAdministration(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword, SessionTTL: time.Hour})
	ctx := ctxT(t)
	if err := s.CreateUser(ctx, User{Name: "erin", Roles: []Role{RoleOperator}, Tenant: "t1"}, "erin-password"); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		u    User
		pw   string
		want error
	}{
		"duplicate": {User{Name: "erin"}, "erin-password", ErrUserExists},
		"bad name":  {User{Name: "no spaces"}, "password-ok", ErrBadUsername},
		"empty":     {User{}, "password-ok", ErrBadUsername},
		"bad role":  {User{Name: "frank", Roles: []Role{"root"}}, "password-ok", ErrBadRole},
		"weak":      {User{Name: "frank"}, "short", ErrWeakPassword},
	} {
		if err := s.CreateUser(ctx, c.u, c.pw); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	u, err := s.GetUser(ctx, "erin")
	if err != nil || u.Tenant != "t1" || len(u.Roles) != 1 || u.Roles[0] != RoleOperator {
		t.Fatalf("erin: %+v %v", u, err)
	}
	if err := s.SetRoles(ctx, "admin", []Role{RoleViewer}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote last admin: %v", err)
	}
	if err := s.DeleteUser(ctx, "admin"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete last admin: %v", err)
	}
	if err := s.SetRoles(ctx, "nobody", []Role{RoleViewer}); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("roles of unknown user: %v", err)
	}
	if err := s.SetRoles(ctx, "erin", nil); !errors.Is(err, ErrBadRole) {
		t.Fatalf("no roles: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody", "password-ok"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("password of unknown user: %v", err)
	}
	if err := s.DeleteUser(ctx, "nobody"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("delete unknown user: %v", err)
	}
	// A second admin makes the first removable.
	if err := s.SetRoles(ctx, "erin", []Role{RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	mustLogin(t, s, "erin", "erin-password")
	if err := s.SetPassword(ctx, "erin", "erin-password-2"); err != nil {
		t.Fatal(err)
	}
	mustLogin(t, s, "erin", "erin-password-2")
	if err := s.DeleteUser(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "erin"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete the new last admin: %v", err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 1 || users[0].PasswordHash != "" {
		t.Fatalf("users: %+v %v", users, err)
	}
}
