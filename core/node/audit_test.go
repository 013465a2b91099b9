package node

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

func httpDo(t *testing.T, method, url, body, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuditLogOnNode drives the real auth routes and a /raft route through
// a node and reads the entries back: who, what, the status, and no
// password anywhere in the stored bytes.
func TestAuditLogOnNode(t *testing.T) {
	const (
		wrongPW = "wrong-pw-for-audit-7f3a"
		newPW   = "new-user-pw-for-audit-91c2"
	)
	cfg := testConfig(t)
	n := startNode(t, cfg)
	token := adminToken(t, n)
	base := "http://" + n.HTTPAddr()

	if code := httpDo(t, http.MethodPost, base+"/api/auth/login",
		`{"username":"admin","password":"`+wrongPW+`"}`, ""); code != http.StatusUnauthorized {
		t.Fatalf("failed login: %d", code)
	}
	if code := httpDo(t, http.MethodPost, base+"/api/auth/users",
		`{"name":"ivy","password":"`+newPW+`","roles":["viewer"]}`, token); code != http.StatusCreated {
		t.Fatalf("create user: %d", code)
	}
	httpDo(t, http.MethodDelete, base+"/raft/members/99", "", token)
	if code, _ := httpGet(t, base+"/api/auth/status"); code != http.StatusOK {
		t.Fatalf("status: %d", code)
	}

	var page audit.Page
	testutil.Eventually(t, 10*time.Second, "three audit entries", func() bool {
		var err error
		page, err = n.Audit().List(context.Background(), audit.Query{PageSize: 100})
		return err == nil && page.Total >= 3
	})
	byOp := map[string]audit.Entry{}
	for _, e := range page.Entries {
		byOp[e.Operation] = e
		if strings.HasPrefix(e.Operation, "GET") {
			t.Errorf("a GET was audited: %+v", e)
		}
	}
	login, ok := byOp["POST /api/auth/login"]
	if !ok || login.Username != "admin" || login.Success || login.Status != http.StatusUnauthorized ||
		login.NodeID != cfg.Node.ID || !strings.Contains(login.Params, `"password":"***"`) {
		t.Errorf("failed login entry: %+v (all: %v)", login, page.Entries)
	}
	create, ok := byOp["POST /api/auth/users"]
	if !ok || create.Username != "admin" || !create.Success || create.Status != http.StatusCreated ||
		!strings.Contains(create.Params, `"name":"ivy"`) {
		t.Errorf("create user entry: %+v (all: %v)", create, page.Entries)
	}
	if raft, ok := byOp["DELETE /raft/members/{id}"]; !ok || raft.Username != "admin" || raft.Target != "/raft/members/99" {
		t.Errorf("raft entry: %+v (all: %v)", raft, page.Entries)
	}

	ns, err := n.Store().Namespace(audit.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ns.List(context.Background(), "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range res.KVs {
		for _, pw := range []string{wrongPW, newPW, testAdminPassword, token} {
			if bytes.Contains(kv.Value, []byte(pw)) {
				t.Fatalf("audit entry %s holds a secret: %s", kv.Key, kv.Value)
			}
		}
	}
}
