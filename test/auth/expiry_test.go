package authtest

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/auth"
)

const (
	configuredPassword = "configured-admin-pw"
	shortTTL           = 2 * time.Second
)

// TestConfiguredAdminAndExpiry: with auth.admin_password set there is no
// first-boot file and no forced change; sessions expire after
// auth.session_ttl on every node.
func TestConfiguredAdminAndExpiry(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, func(cfg *config.Config) {
		cfg.Auth.AdminPassword = configuredPassword
		cfg.Auth.SessionTTL = shortTTL
	})
	for _, tn := range c.nodes {
		if _, err := os.Stat(filepath.Join(tn.cfg.Node.DataDir, auth.InitialPasswordFile)); !os.IsNotExist(err) {
			t.Fatalf("node %d has an initial password file (%v) although auth.admin_password is set", tn.id, err)
		}
	}
	for i := 1; i <= 3; i++ {
		if st := get(t, c.url(i, "/api/auth/status"), "").json(t); st["initial_setup_pending"] != false {
			t.Fatalf("node %d: %v", i, st)
		}
	}

	before := time.Now()
	r := postJSON(t, http.MethodPost, c.url(1, "/api/auth/login"), "", map[string]string{"username": "admin", "password": configuredPassword})
	m := r.json(t)
	if r.status != http.StatusOK || m["must_change_password"] != false || m["authenticated"] != true {
		t.Fatalf("login with the configured password: %s", r)
	}
	exp := int64(m["expires_at"].(float64))
	if exp < before.Add(shortTTL).Unix()-1 || exp > time.Now().Add(shortTTL).Unix()+1 {
		t.Fatalf("expires_at %d is not %s from now", exp, shortTTL)
	}
	etcdToken := m["session_token"].(string)
	v2 := postForm(t, c.url(2, "/api/v2/login/"), url.Values{"username": {"admin"}, "password": {configuredPassword}})
	if v2.status != http.StatusOK {
		t.Fatalf("CockroachDB login: %s", v2)
	}
	crdbToken := v2.json(t)["session"].(string)

	for _, tok := range []string{etcdToken, crdbToken} {
		for i := 1; i <= 3; i++ {
			if r := get(t, c.url(i, probeRoutes["etcdmonitor"]), tok); r.status != http.StatusOK {
				t.Fatalf("fresh token on node %d: %s", i, r)
			}
		}
	}
	// Expiry is a time on the session record: once node 1 refuses the
	// token, nodes 2 and 3 refuse it too.
	eventually(t, 10*shortTTL, "the session expires on node 1", func() bool {
		return get(t, c.url(1, probeRoutes["etcdmonitor"]), etcdToken).status == http.StatusUnauthorized
	})
	for i := 1; i <= 3; i++ {
		wantJSONError(t, get(t, c.url(i, probeRoutes["etcdmonitor"]), etcdToken), http.StatusUnauthorized, "unauthorized")
		wantTextError(t, get(t, c.url(i, probeRoutes["cockroach"]), etcdToken), http.StatusUnauthorized, true)
		if st := get(t, c.url(i, "/api/auth/status"), etcdToken).json(t); st["authenticated"] != false {
			t.Fatalf("status of an expired session on node %d: %v", i, st)
		}
	}
	eventually(t, 10*shortTTL, "the CockroachDB session expires everywhere", func() bool {
		for i := 1; i <= 3; i++ {
			if get(t, c.url(i, probeRoutes["cockroach"]), crdbToken).status != http.StatusUnauthorized {
				return false
			}
		}
		return true
	})
	// An expired session cannot be logged out any more.
	wantTextError(t, do(t, req{method: http.MethodPost, url: c.url(3, "/api/v2/logout/"), token: crdbToken, place: places["X-Cockroach-API-Session"]}), http.StatusBadRequest, true)
}
