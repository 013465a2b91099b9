package auth

import (
	"errors"
	"testing"
)

// A session belongs to the user as it was at login: deleting and
// re-creating the name, or changing the password, ends it; a role change is
// visible at once on the node that made it.
func TestSessionsFollowTheirUser(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword})
	ctx := ctxT(t)
	if err := s.CreateUser(ctx, User{Name: "bob", Roles: []Role{RoleOperator}}, "bob-password-1"); err != nil {
		t.Fatal(err)
	}
	tok := mustLogin(t, s, "bob", "bob-password-1")
	p, err := s.Authenticate(ctx, tok)
	if err != nil || !p.Can(PermOperator) {
		t.Fatalf("bob before changes: %v %+v", err, p)
	}

	// Demotion: read-your-writes on this node, no waiting for the watch.
	if err := s.SetRoles(ctx, "bob", []Role{RoleViewer}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, tok); err != nil || p.Can(PermWrite) {
		t.Fatalf("bob right after demotion: %v, can write: %v", err, p.Can(PermWrite))
	}

	// Password change ends the session.
	if err := s.SetPassword(ctx, "bob", "bob-password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session survived a password change: %v", err)
	}
	tok = mustLogin(t, s, "bob", "bob-password-2")

	// A new bob does not inherit the old bob's sessions.
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, User{Name: "bob", Roles: []Role{RoleAdmin}}, "bob-password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("re-created bob inherited a session: %v", err)
	}
}

func TestLastAdminIsKept(t *testing.T) {
	s := newService(t, Config{AdminPassword: testAdminPassword})
	ctx := ctxT(t)
	// admin is the only admin (and a superuser): it cannot be demoted or
	// deleted.
	if err := s.SetRoles(ctx, "admin", []Role{RoleViewer}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote the last admin: %v", err)
	}
	if err := s.DeleteUser(ctx, "admin"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete the last admin: %v", err)
	}
	// With a second admin, one of them may go.
	if err := s.CreateUser(ctx, User{Name: "ops", Roles: []Role{RoleAdmin}}, "ops-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoles(ctx, "ops", []Role{RoleViewer}); err != nil {
		t.Fatalf("demote one of two admins: %v", err)
	}
	if err := s.DeleteUser(ctx, "admin"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete the last admin after the other was demoted: %v", err)
	}
}
