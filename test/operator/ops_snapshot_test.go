package operatortest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// opsSnapshotFile is a snapshot downloaded to a file.
type opsSnapshotFile struct {
	path     string
	header   http.Header
	revision int64
	size     int64
	sha256   string
}

// downloadSnapshot runs GET /api/ops/snapshot on node i (query may be
// "") into a file and checks the download's headers and trailers.
func (c *opsCluster) downloadSnapshot(i int, query string) opsSnapshotFile {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.tc.Node(i).Base+"/api/ops/snapshot"+query, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := opsClient.Do(req)
	if err != nil {
		c.t.Fatalf("snapshot from node %d: %v", i, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("snapshot from node %d: %d %s", i, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		c.t.Fatalf("snapshot Content-Type %q", ct)
	}
	path := filepath.Join(c.t.TempDir(), "snapshot.db")
	f, err := os.Create(path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), resp.Body)
	if err != nil {
		c.t.Fatalf("snapshot from node %d: read: %v", i, err)
	}
	s := opsSnapshotFile{path: path, header: resp.Header, size: n, sha256: hex.EncodeToString(sum.Sum(nil))}
	tr := resp.Trailer
	s.revision, _ = strconv.ParseInt(tr.Get("X-Trellis-Snapshot-Revision"), 10, 64)
	if s.revision <= 0 || tr.Get("X-Trellis-Snapshot-Size") != strconv.FormatInt(n, 10) || tr.Get("X-Trellis-Snapshot-Sha256") != s.sha256 {
		c.t.Fatalf("snapshot from node %d: trailers %v do not describe the %d bytes (sha256 %s) received", i, tr, n, s.sha256)
	}
	return s
}

// testOpsSnapshotRestore downloads a follower's snapshot through another
// member, restores it into a new one-node cluster and checks that node has
// the same data: the same keys, and the same hash at the snapshot's
// revision as the cluster's.
func testOpsSnapshotRestore(t *testing.T, c *opsCluster) {
	for i := 0; i < 20; i++ {
		c.mustPut(i%3+1, fmt.Sprintf("/snap/k%02d", i), fmt.Sprintf("value %d", i))
	}
	c.waitApplied()
	f := c.follower()
	via := f%3 + 1
	snap := c.downloadSnapshot(via, "?member_id="+strconv.Itoa(f))
	disp := regexp.MustCompile(fmt.Sprintf(`^attachment; filename="trellis-snapshot-node-%d-\d{8}-\d{6}\.db"$`, f))
	if !disp.MatchString(snap.header.Get("Content-Disposition")) {
		t.Fatalf("Content-Disposition %q", snap.header.Get("Content-Disposition"))
	}
	// Without member_id the member asked answers.
	if own := c.downloadSnapshot(3, ""); !regexp.MustCompile(`filename="trellis-snapshot-node-3-`).MatchString(own.header.Get("Content-Disposition")) {
		t.Fatalf("default member: Content-Disposition %q", own.header.Get("Content-Disposition"))
	}
	opsWantError(t, c.do(1, http.MethodGet, "/api/ops/snapshot?member_id=42", c.admin, nil), http.StatusBadRequest, "member not found")
	opsWantError(t, c.do(1, http.MethodGet, "/api/ops/snapshot?member_id=x", c.admin, nil), http.StatusBadRequest, "invalid member_id")

	// Restore into a new one-member cluster and start it.
	cfg := config.Defaults()
	cfg.Node.ID = 7
	cfg.Node.Name = "restored"
	cfg.Node.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Addr = testutil.FreeAddr(t)
	cfg.Raft.Addr = testutil.FreeAddr(t)
	cfg.Raft.TickInterval = 50 * time.Millisecond
	cfg.Modules = map[string]config.ModuleConfig{}
	opsSettings(&cfg)
	file, err := os.Open(snap.path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	member := raft.Member{ID: 7, Name: "restored", PeerAddr: cfg.Raft.Addr, HTTPAddr: cfg.HTTP.Addr}
	info, err := store.RestoreSnapshot(context.Background(), file, cfg.Node.DataDir, member)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if info.Revision != snap.revision || info.Size != snap.size || info.SHA256 != snap.sha256 {
		t.Fatalf("restore read %+v, the download was revision %d, %d bytes, sha256 %s", info, snap.revision, snap.size, snap.sha256)
	}
	restored := opsStartNode(t, &cfg)
	base := "http://" + restored.HTTPAddr()
	tok := opsLoginAt(t, base)

	if ms := restored.Store().Raft().Members(); len(ms) != 1 || ms[0].ID != 7 {
		t.Fatalf("restored cluster members %+v, want only member 7", ms)
	}
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("/snap/k%02d", i)
		r, err := opsSend(base, http.MethodGet, "/api/kv/v3/get?key="+key, tok, nil)
		if err != nil || r.status != http.StatusOK || !regexp.MustCompile(fmt.Sprintf(`"value":"value %d"`, i)).MatchString(r.body) {
			t.Fatalf("restored node: get %s: %v %v", key, r, err)
		}
	}
	body := map[string]int64{"revision": snap.revision}
	r, err := opsSend(base, http.MethodPost, "/api/ops/hashkv", tok, body)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("restored node: hashkv: %v %v", r, err)
	}
	var got opsHashKV
	r.decode(t, &got)
	want := c.hashKV(1, body)
	if !got.Consistent || !want.Consistent || len(got.Results) != 1 || got.Results[0].Hash != want.Results[0].Hash {
		t.Fatalf("hash at revision %d: restored node %+v, cluster %+v", snap.revision, got, want)
	}
	// The restored cluster takes writes.
	if r, err := opsSend(base, http.MethodPut, "/api/kv/v3/put", tok, map[string]string{"key": "/snap/after", "value": "x"}); err != nil || r.status != http.StatusOK {
		t.Fatalf("restored node: put: %v %v", r, err)
	}
}

// opsStartNode starts a node on cfg outside any test cluster and waits
// for its leader; it stops at cleanup.
func opsStartNode(t *testing.T, cfg *config.Config) *node.Node {
	t.Helper()
	n := node.New(cfg, testnode.Logger())
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start node %d: %v", cfg.Node.ID, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		n.Stop(ctx)
	})
	testnode.Eventually(t, 20*time.Second, "the node elects itself", func() bool { return n.Store().Raft().Leader() != 0 })
	return n
}

// opsLoginAt logs in as admin on the node at base.
func opsLoginAt(t *testing.T, base string) string {
	t.Helper()
	var tok string
	testnode.Eventually(t, 20*time.Second, "admin can log in at "+base, func() bool {
		r, err := opsSend(base, http.MethodPost, "/api/auth/login", "", map[string]string{"username": "admin", "password": opsAdminPassword})
		if err != nil || r.status != http.StatusOK {
			return false
		}
		tok, _ = r.json(t)["session_token"].(string)
		return tok != ""
	})
	return tok
}
