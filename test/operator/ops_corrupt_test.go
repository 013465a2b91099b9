package operatortest

import (
	"bytes"
	"math"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// opsEventPrefix is where the state store keeps the KV module's records:
// its change log, tag 'w', the namespace, a zero byte (core/store/keys.go).
const opsEventPrefix = "wkv\x00"

// opsCorruptMember changes member i's state behind raft's back while it is
// stopped: the newest record of key (a change-log event naming the KV
// module's "v3/"+key and ending in value) gets value replaced by another
// of the same length, at its own version, so revisions and versions all
// still agree and only the data differs.
func (c *opsCluster) opsCorruptMember(i int, key, value, replacement string) {
	c.t.Helper()
	if len(value) != len(replacement) {
		c.t.Fatalf("replacement %q is not as long as %q", replacement, value)
	}
	c.stop(i)
	db, err := storage.OpenStateDB(filepath.Join(c.tc.Node(i).Config.Node.DataDir, "state"), testnode.Logger())
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	read := db.DB().NewTransactionAt(math.MaxUint64, false)
	it := read.NewIterator(badger.IteratorOptions{Prefix: []byte(opsEventPrefix)})
	var (
		at      []byte
		version uint64
		rec     []byte
	)
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			c.t.Fatal(err)
		}
		if bytes.Contains(v, []byte("v3/"+key)) && bytes.HasSuffix(v, []byte(value)) {
			at, version, rec = it.Item().KeyCopy(nil), it.Item().Version(), v
		}
	}
	it.Close()
	read.Discard()
	if at == nil {
		c.t.Fatalf("no record of %s with value %q on member %d", key, value, i)
	}
	copy(rec[len(rec)-len(value):], replacement)
	wb := db.DB().NewManagedWriteBatch()
	if err := wb.SetEntryAt(badger.NewEntry(at, rec), version); err != nil {
		c.t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// TestOpsHashKVDetectsCorruption changes one member's data behind raft's
// back: hashkv then reports the cluster inconsistent, that member's hash
// differing from the others', and raises a CORRUPT alarm for it alone,
// which refuses KV writes until it is disarmed.
func TestOpsHashKVDetectsCorruption(t *testing.T) {
	c := startOpsCluster(t, 3)
	c.mustPut(1, "/corrupt/a", "alpha")
	c.mustPut(2, "/corrupt/b", "bravo")
	c.waitApplied()
	if h := c.hashKV(1, nil); !h.Consistent {
		t.Fatalf("hashkv before any corruption: %+v", h)
	}

	const bad = 3
	c.opsCorruptMember(bad, "/corrupt/b", "bravo", "alpha")
	c.restart(bad)
	c.waitAnnounced()
	c.waitApplied()

	h := c.hashKV(1, nil)
	if h.Consistent || len(h.Results) != 3 {
		t.Fatalf("hashkv after corrupting member %d: %+v", bad, h)
	}
	good := h.Results[0].Hash
	for _, res := range h.Results {
		if res.Error != "" {
			t.Fatalf("hashkv: member %s: %s", res.MemberID, res.Error)
		}
		if (res.MemberID == "3") != (res.Hash != good) {
			t.Fatalf("hashkv: only member 3 should differ: %+v", h.Results)
		}
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 10*time.Second, "every node lists the CORRUPT alarm", func() bool {
			a := c.alarms(i)
			return len(a) == 1 && a[0] == opsAlarm{MemberID: "3", MemberName: "node-3", AlarmType: "CORRUPT"}
		})
	}
	// While it is raised, KV writes are refused in etcdmonitor's format.
	r := c.put(2, "/corrupt/c", "charlie")
	if m := opsWantError(t, r, http.StatusServiceUnavailable); m["code"] != "data_corrupt" {
		t.Fatalf("put while CORRUPT is raised: %s", r)
	}
	// Disarming it (with etcd's protobuf spelling) lets writes through.
	c.ok(1, http.MethodPost, "/api/ops/alarms/disarm", map[string]string{"member_id": "3", "alarm_type": "AlarmType_CORRUPT"})
	testnode.Eventually(t, 10*time.Second, "writes are accepted after the disarm", func() bool {
		return c.put(2, "/corrupt/c", "charlie").status == http.StatusOK
	})
	// The alarm list is each member's applied state: node 3 answers for
	// the disarm once it has applied as far as the write that passed.
	c.waitApplied()
	if a := c.alarms(3); len(a) != 0 {
		t.Fatalf("alarms after the disarm: %v", a)
	}
	opsWantError(t, c.do(1, http.MethodPost, "/api/ops/alarms/disarm", c.admin, map[string]string{"member_id": "3", "alarm_type": "CORRUPT"}), http.StatusNotFound)
}
