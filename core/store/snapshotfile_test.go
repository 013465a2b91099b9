package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/internal/testutil"
)

func TestSnapshotRestoreStartsOneMemberCluster(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	lead := c.waitLeader()
	kv := c.ns(lead)
	for i := 0; i < 100; i++ {
		mustPut(t, kv, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	mustPut(t, kv, "k000", "again")
	if _, err := kv.Delete(ctx(t), "k001"); err != nil {
		t.Fatal(err)
	}
	compactTo := mustPut(t, kv, "lease", "x").Revision
	if _, err := kv.Put(ctx(t), "lease", []byte("y"), PutOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ns(t, c.stores[lead], "core.auth"), "user/admin", "{}")
	if err := c.stores[lead].Compact(ctx(t), compactTo); err != nil {
		t.Fatal(err)
	}
	if err := c.stores[lead].RaiseAlarm(ctx(t), Alarm{MemberID: 2, Type: AlarmCorrupt}); err != nil {
		t.Fatal(err)
	}
	// Snapshot a follower once it has everything.
	f := c.follower()
	src := c.stores[f]
	want := c.stores[lead].Revision()
	testutil.Eventually(t, 10*time.Second, "follower to catch up", func() bool { return src.Revision() >= want })
	var buf bytes.Buffer
	info, err := src.Snapshot(ctx(t), &buf)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if info.Revision < want || info.Size != int64(buf.Len()) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("snapshot info %+v for %d bytes with sha256 %x, revision %d", info, buf.Len(), sum, want)
	}
	srcHash, err := src.HashKV(ctx(t), info.Revision)
	if err != nil {
		t.Fatal(err)
	}
	srcLease := mustGet(t, ns(t, src, "kv"), "lease", ReadOptions{Revision: info.Revision, Serializable: true})

	dataDir := filepath.Join(t.TempDir(), "restored")
	m := raft.Member{ID: 7, Name: "solo", PeerAddr: testutil.FreeAddr(t), HTTPAddr: "127.0.0.1:8080"}
	rinfo, err := RestoreSnapshot(ctx(t), bytes.NewReader(buf.Bytes()), dataDir, m)
	if err != nil {
		t.Fatal(err)
	}
	if rinfo != info {
		t.Fatalf("restore read %+v, snapshot wrote %+v", rinfo, info)
	}
	if _, err := RestoreSnapshot(ctx(t), bytes.NewReader(buf.Bytes()), dataDir, m); err == nil || !strings.Contains(err.Error(), "already holds data") {
		t.Fatalf("restore into a restored data dir: %v", err)
	}

	open := func() *Store {
		s, err := Open(Options{DataDir: dataDir, Raft: raftConfig(7, m.PeerAddr, nil), Logger: testLogger(), TTLInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		waitLeader(t, s)
		return s
	}
	s := open()
	defer func() { s.Close() }()
	if s.Raft().Leader() != 7 {
		t.Fatalf("leader of the restored cluster: %d", s.Raft().Leader())
	}
	if got := s.Raft().Members(); !reflect.DeepEqual(got, []raft.Member{m}) {
		t.Fatalf("members after restore: %+v", got)
	}
	if a := s.Alarms(); len(a) != 0 {
		t.Fatalf("alarms after restore: %+v", a)
	}
	if s.CompactedRevision() != compactTo {
		t.Fatalf("compacted revision after restore: %d, want %d", s.CompactedRevision(), compactTo)
	}
	got, err := s.HashKV(ctx(t), info.Revision)
	if err != nil || got.Hash != srcHash.Hash || got.Revision != info.Revision {
		t.Fatalf("hash after restore %+v (err %v), source %+v", got, err, srcHash)
	}
	if _, err := s.HashKV(ctx(t), info.Revision-1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("hash below the restored revision: %v", err)
	}
	rkv := ns(t, s, "kv")
	if lease := mustGet(t, rkv, "lease", ReadOptions{}); !reflect.DeepEqual(lease, srcLease) || lease.ExpireAt == 0 {
		t.Fatalf("lease after restore %+v, source %+v", lease, srcLease)
	}
	// The change log came along: a watch from the compacted revision
	// replays history.
	wctx, cancel := contextWithCancel(t)
	ch, err := rkv.Watch(wctx, "k0", compactTo)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, rkv, "k050", "new")
	for seen := false; !seen; {
		r := <-ch
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, ev := range r.Events {
			seen = seen || ev.KV.Key == "k050"
		}
	}
	cancel()
	if got := mustGet(t, rkv, "k050", ReadOptions{}); got.Version != 2 || got.ModRevision <= info.Revision {
		t.Fatalf("write after restore: %+v", got)
	}
	// It restarts as a one-member cluster too.
	after, err := s.HashKV(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	if again, err := s.HashKV(ctx(t), after.Revision); err != nil || again.Hash != after.Hash {
		t.Fatalf("hash after restart %+v (err %v), before %+v", again, err, after)
	}
	mustPut(t, ns(t, s, "kv"), "after-restart", "x")
}

func smallSnapshot(t *testing.T) []byte {
	t.Helper()
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	for i := 0; i < 20; i++ {
		mustPut(t, kv, fmt.Sprintf("k%02d", i), strings.Repeat("v", 100))
	}
	var buf bytes.Buffer
	if _, err := s.Snapshot(ctx(t), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRestoreSnapshotRefusesBadFiles(t *testing.T) {
	good := smallSnapshot(t)
	n := len(good)
	with := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"cut in the magic", good[:5], "truncated"},
		{"cut in the header", good[:30], "truncated"},
		{"cut in a chunk length", good[:snapshotHeaderSize+2], "truncated"},
		{"cut in the body", good[:n/2], "truncated"},
		{"cut before the trailer", good[:n-32], "truncated"},
		{"cut in the trailer", good[:n-10], "truncated"},
		{"byte flipped in the body", with(func(b []byte) []byte { b[n/2] ^= 0x40; return b }), "checksum"},
		{"byte flipped in the trailer", with(func(b []byte) []byte { b[n-1] ^= 1; return b }), "checksum"},
		{"revision changed in the header", with(func(b []byte) []byte { b[23]++; return b }), "checksum"},
		{"bad magic", with(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"not a snapshot", []byte("{\"hello\": \"world\"}\n"), "magic"},
		{"unknown version", with(func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 3); return b }), "version 3"},
		{"version 1 (state layout 1)", with(func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 1); return b }), "version 1"},
		{"oversized chunk", with(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[snapshotHeaderSize:], 1<<30)
			return b
		}), "corrupt body"},
		{"trailing bytes", append(append([]byte(nil), good...), 'x'), "after the checksum"},
		{"body not in Badger's format, checksum right", with(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[snapshotHeaderSize+4:], 1<<40) // the first frame's length
			sum := sha256.Sum256(b[:n-32])
			copy(b[n-32:], sum[:])
			return b
		}), "malformed snapshot stream"},
	}
	m := raft.Member{ID: 1, PeerAddr: "127.0.0.1:1"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dataDir := filepath.Join(parent, "data")
			_, err := RestoreSnapshot(ctx(t), bytes.NewReader(tc.file), dataDir, m)
			if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadSnapshot saying %q", err, tc.want)
			}
			t.Log(err)
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Fatalf("left behind: %v", entries)
			}
		})
	}
	// The good file restores.
	if _, err := RestoreSnapshot(ctx(t), bytes.NewReader(good), filepath.Join(t.TempDir(), "data"), m); err != nil {
		t.Fatal(err)
	}
}

// A data dir that exists keeps what else it holds; one with raft or state
// data is refused and left alone.
func TestRestoreSnapshotDataDirs(t *testing.T) {
	good := smallSnapshot(t)
	m := raft.Member{ID: 3, PeerAddr: "127.0.0.1:1"}
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "admin-password"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dataDir, "snap"), 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreSnapshot(ctx(t), bytes.NewReader(good), dataDir, m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin-password", "raft", "state", "snap"} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err != nil {
			t.Fatalf("%s after restore into an existing dir: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dataDir))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") {
			t.Fatalf("temporary dir left behind: %s", e.Name())
		}
	}

	used := t.TempDir()
	if err := os.MkdirAll(filepath.Join(used, "state"), 0o750); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(used, "state", "MANIFEST")
	if err := os.WriteFile(marker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreSnapshot(ctx(t), bytes.NewReader(good), used, m); err == nil {
		t.Fatal("restored over existing state data")
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "x" {
		t.Fatalf("existing state data touched: %q, %v", b, err)
	}
	if _, err := RestoreSnapshot(ctx(t), bytes.NewReader(good), t.TempDir(), raft.Member{ID: 0, PeerAddr: "127.0.0.1:1"}); err == nil {
		t.Fatal("restored for member id 0")
	}
}
