package auth

import (
	"errors"
	"testing"
)

func TestRolePermissions(t *testing.T) {
	perms := []Permission{PermRead, PermWrite, PermOperator, PermAdmin}
	want := map[Role][]bool{
		RoleAdmin:    {true, true, true, true},
		RoleOperator: {true, true, true, false},
		RoleViewer:   {true, false, false, false},
		Role("root"): {false, false, false, false},
	}
	for role, grants := range want {
		for i, p := range perms {
			if got := role.grants(p); got != grants[i] {
				t.Errorf("%s grants %s = %v, want %v", role, p, got, grants[i])
			}
			pr := &Principal{Username: "u", Roles: []Role{role}}
			if got := pr.Can(p); got != grants[i] {
				t.Errorf("principal with %s Can(%s) = %v, want %v", role, p, got, grants[i])
			}
		}
	}
}

func TestPrincipalCan(t *testing.T) {
	var nobody *Principal
	if nobody.Can(PermRead) {
		t.Fatal("nil principal can read")
	}
	if (&Principal{}).Can(PermRead) {
		t.Fatal("principal without roles can read")
	}
	super := &Principal{Superuser: true}
	if !super.Can(PermAdmin) {
		t.Fatal("superuser without roles cannot administer")
	}
	mixed := &Principal{Roles: []Role{RoleViewer, RoleOperator}}
	if !mixed.Can(PermOperator) || mixed.Can(PermAdmin) {
		t.Fatal("roles do not add up to their union")
	}
	if (Permission(0)).String() != "unknown" || PermOperator.String() != "operator" {
		t.Fatal("permission names")
	}
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"admin", "operator", "viewer"} {
		if r, err := ParseRole(s); err != nil || string(r) != s {
			t.Fatalf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "Admin", "root", "viewer "} {
		if _, err := ParseRole(s); !errors.Is(err, ErrBadRole) {
			t.Fatalf("ParseRole(%q) err = %v, want ErrBadRole", s, err)
		}
	}
}

func TestValidUsername(t *testing.T) {
	for _, ok := range []string{"a", "admin", "bob.smith", "svc_ci-1", "me@example.com", "x"} {
		if !validUsername(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	long := make([]byte, 65)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "a b", "a/b", "ü", "a\n", string(long), "../x"} {
		if validUsername(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
