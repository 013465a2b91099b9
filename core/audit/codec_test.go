package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/trellis-cp/trellis/core/store"
)

// A flushed batch is stored as a zstd frame much smaller than its JSON,
// and reads back entry for entry.
func TestBatchesAreStoredCompressed(t *testing.T) {
	const n = 100
	l := newLog(t, Options{BatchSize: n, FlushInterval: time.Hour})
	for i := 0; i < n; i++ {
		l.Record(Entry{Username: "admin", Operation: "PUT /api/kv/v3/put", Target: fmt.Sprintf("/loadkv/key-%05d", i),
			Params: `{"ttl":0,"value_bytes":256}`, Status: 200, Success: true, ClientAddr: fmt.Sprintf("127.0.0.1:%d", 40000+i)})
	}
	waitTotal(t, l, n)
	kvs := batches(t, l)
	if len(kvs) != 1 {
		t.Fatalf("%d batch keys, want 1", len(kvs))
	}
	v := kvs[0].Value
	if !bytes.HasPrefix(v, zstdMagic) {
		t.Fatalf("stored batch starts %q, want a zstd frame", v[:min(len(v), 8)])
	}
	raw, err := batchJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) || len(v)*5 > len(raw) {
		t.Fatalf("stored %d bytes for %d bytes of JSON (valid %v): want at least 5x smaller", len(v), len(raw), json.Valid(raw))
	}
	got, err := decodeBatch(kvs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if want := fmt.Sprintf("/loadkv/key-%05d", i); e.Target != want || e.ClientAddr != fmt.Sprintf("127.0.0.1:%d", 40000+i) {
			t.Fatalf("entry %d: %+v, want target %s", i, e, want)
		}
	}
}

// Batches written before compression (a JSON array, or one entry of the
// oldest layout) read the same way.
func TestPlainJSONBatchesStillRead(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	one, _ := json.Marshal(stored{Entry: Entry{Target: "/one", Time: at}})
	arr, _ := json.Marshal([]stored{{Entry: Entry{Target: "/a", Time: at}}, {Entry: Entry{Target: "/b", Time: at}, Seq: 1}})
	for _, c := range []struct {
		value []byte
		want  []string
	}{{one, []string{"/one"}}, {arr, []string{"/a", "/b"}}, {compressBatch(arr), []string{"/a", "/b"}}} {
		got, err := decodeBatch(&store.KV{Key: "e/x", Value: c.value, ModRevision: 7})
		if err != nil {
			t.Fatalf("%q: %v", c.value, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%q: %d entries, want %d", c.value, len(got), len(c.want))
		}
		for i, e := range got {
			if e.Target != c.want[i] || e.ID != 7*idSpan+int64(i) {
				t.Fatalf("%q entry %d: %+v, want %s with id %d", c.value, i, e, c.want[i], 7*idSpan+int64(i))
			}
		}
	}
}

// A damaged frame, or one that would inflate past the bound, is an error
// for that batch, not a panic or an allocation of its claimed size.
func TestBadCompressedBatches(t *testing.T) {
	good := compressBatch([]byte(`[{"target":"/a"}]`))
	truncated := good[:len(good)-3]
	garbage := append(append([]byte{}, zstdMagic...), bytes.Repeat([]byte{0xff}, 64)...)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	bomb := enc.EncodeAll([]byte("["+strings.Repeat(" ", maxDecodedBatch)+"]"), nil)
	for name, v := range map[string][]byte{"truncated": truncated, "garbage": garbage, "bomb": bomb} {
		if _, err := decodeBatch(&store.KV{Key: "e/" + name, Value: v}); err == nil || !strings.Contains(err.Error(), "e/"+name) {
			t.Errorf("%s (%d bytes): error %v, want one naming the key", name, len(v), err)
		}
	}
}
