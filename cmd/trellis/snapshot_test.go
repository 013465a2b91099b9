package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

// TestSnapshotCommands saves a snapshot from a running node with the real
// binary, restores it into a new data directory, starts a node there with
// the command restore printed, and reads the data back from it.
func TestSnapshotCommands(t *testing.T) {
	bin := buildBinary(t)
	c := newCLI(t, bin)
	tn := kvNodeForTest(t)
	c.login(tn.url)
	c.requireKV("/snap/a", "alpha")
	c.putRev("/snap/b", "bravo")
	rev := c.putRev("/snap/a", "alpha again")

	// save: the file appears whole, and what is printed describes it.
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.db")
	out := c.ok("snapshot", "save", file)
	m := regexp.MustCompile(`(?m)^saved snapshot to .*\nrevision: (\d+)\nsize: (\d+) bytes\nsha256: ([0-9a-f]{64})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("snapshot save printed %q", out)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if snapRev, _ := strconv.ParseInt(m[1], 10, 64); snapRev < rev || m[2] != strconv.Itoa(len(raw)) || m[3] != hex.EncodeToString(sum[:]) {
		t.Fatalf("snapshot save printed %q; the file has %d bytes with sha256 %x; the last put was revision %d", out, len(raw), sum, rev)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("save left %d files in %s, want only the snapshot", len(entries), dir)
	}
	c.ok("snapshot", "save", filepath.Join(dir, "member1.db"), "--member-id", "1")
	c.fails([]string{"snapshot", "save", filepath.Join(dir, "x.db"), "--member-id", "99"}, "snapshot save", "400", "member not found")
	c.fails([]string{"snapshot", "save", filepath.Join(dir, "x.db"), "--token", "bogus"}, "401")
	c.fails([]string{"snapshot", "save", filepath.Join(dir, "missing", "x.db")}, "snapshot save")

	// restore: offline, into a fresh directory; bad input is one line.
	data := filepath.Join(t.TempDir(), "restored")
	httpAddr, raftAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	c.fails([]string{"snapshot", "restore", file}, "--data-dir")
	c.fails([]string{"snapshot", "restore", file, "--data-dir", data, "--raft-addr", "nohost"}, "--raft-addr")
	c.fails([]string{"snapshot", "restore", filepath.Join(dir, "none.db"), "--data-dir", data}, "none.db")
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.fails([]string{"snapshot", "restore", junk, "--data-dir", filepath.Join(t.TempDir(), "j")}, "snapshot restore")
	out = c.ok("snapshot", "restore", file, "--data-dir", data, "--node-id", "4", "--raft-addr", raftAddr, "--http-addr", httpAddr)
	serveLine := regexp.MustCompile(`(?m)^  (trellis serve .*)$`).FindStringSubmatch(out)
	if !strings.Contains(out, "revision: "+m[1]) || serveLine == nil {
		t.Fatalf("snapshot restore printed %q", out)
	}
	want := fmt.Sprintf("trellis serve --data-dir %s --node-id 4 --raft-addr %s --http-addr %s", data, raftAddr, httpAddr)
	if serveLine[1] != want {
		t.Fatalf("restore says to run %q, want %q", serveLine[1], want)
	}
	c.fails([]string{"snapshot", "restore", file, "--data-dir", data}, "snapshot restore")

	// Run what restore printed and read the data back.
	args := strings.Fields(serveLine[1])[1:]
	serve := c.command(args...)
	var serveErr bytes.Buffer
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { serve.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			serve.Process.Kill()
		}
		if t.Failed() {
			t.Logf("restored node's log:\n%s", serveErr.String())
		}
	})
	restored := newCLI(t, bin)
	restored.login("http://" + httpAddr)
	for key, value := range map[string]string{"/snap/a": "alpha again", "/snap/b": "bravo"} {
		if got := restored.ok("kv", "get", key); got != value+"\n" {
			t.Fatalf("restored node: get %s = %q, want %q", key, got, value)
		}
	}
	if got := restored.ok("kv", "get", "/snap/a", "--revision", m[1]); got != "alpha again\n" {
		t.Fatalf("restored node: get /snap/a at the snapshot's revision %s = %q", m[1], got)
	}
	restored.putRev("/snap/c", "charlie")
}
