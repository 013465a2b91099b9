package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// Entry is one audited request. The first nine fields are etcdmonitor's
// audit-log entry, so its ops page reads Trellis's log unchanged; the rest
// are Trellis's additions.
type Entry struct {
	// ID is unique in the cluster and grows with commit order:
	// the store revision of the write times 1000 plus the entry's place in
	// its batch. It stays below 2^53 so JavaScript reads it exactly.
	ID int64 `json:"id"`
	// Timestamp is Unix seconds, as etcdmonitor's frontend expects.
	Timestamp int64 `json:"timestamp"`
	// Username is who asked: the session's user, the username a login
	// attempt named, or "anonymous".
	Username string `json:"username"`
	// Operation is the method and route pattern: "POST /api/auth/login".
	Operation string `json:"operation"`
	// Target is the request path.
	Target string `json:"target"`
	// Params is a JSON object {"query":..., "body":...} with every field
	// whose name suggests a secret replaced by "***"; "" when there were
	// none.
	Params string `json:"params"`
	// Result is the status as text: "201 Created".
	Result     string `json:"result"`
	DurationMs int64  `json:"duration_ms"`
	// Success is Status < 400.
	Success bool `json:"success"`

	Status     int       `json:"status"`
	NodeID     uint64    `json:"node_id"`
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`
}

// stored is an entry as written: its place in its batch makes the id. An
// entry kept when the pruner trims part of a batch carries its id instead,
// since the rewritten batch has a new revision.
type stored struct {
	Entry
	Seq int `json:"seq"`
}

// keyPrefix is where the log lives. Each key holds one flushed batch of
// one node, its entries oldest first:
//
//	e/<newest entry's unix nanos, 20 digits>/<node id>/<entries>/<oldest entry's nanos>
//
// so the store's key order is the order of the batches' newest entries,
// and a keys-only listing tells how many entries there are and how old
// each batch is without reading a value. One key per batch instead of one
// per entry makes an audited request cost a fraction of a store write and
// of a prune: at thousands of audited writes a second the per-entry keys,
// written and then trimmed, were a quarter of a KV put's cost.
const keyPrefix = "e/"

// batchKey names a batch of count entries from node, oldest at first and
// newest at last (unix nanos).
func batchKey(last int64, node uint64, count int, first int64) string {
	return fmt.Sprintf("%s%020d/%d/%d/%020d", keyPrefix, last, node, count, first)
}

// batchMeta is what a batch key says.
type batchMeta struct {
	key         string
	last, first int64
	node        uint64
	count       int
}

// parseBatchKey reads a batch key. A key of one entry in the older layout,
// e/<nanos>/<node>, reads as a batch of one.
func parseBatchKey(key string) (batchMeta, error) {
	m := batchMeta{key: key, count: 1}
	f := strings.Split(strings.TrimPrefix(key, keyPrefix), "/")
	if len(f) != 2 && len(f) != 4 {
		return m, fmt.Errorf("audit: malformed key %q", key)
	}
	var err error
	if m.last, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return m, fmt.Errorf("audit: malformed key %q", key)
	}
	if m.node, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return m, fmt.Errorf("audit: malformed key %q", key)
	}
	m.first = m.last
	if len(f) == 4 {
		m.count, err = strconv.Atoi(f[2])
		if err != nil || m.count < 1 {
			return m, fmt.Errorf("audit: malformed key %q", key)
		}
		if m.first, err = strconv.ParseInt(f[3], 10, 64); err != nil {
			return m, fmt.Errorf("audit: malformed key %q", key)
		}
	}
	return m, nil
}

// encodeBatch is the stored form of a batch: a JSON array of its entries,
// oldest first, compressed (codec.go).
func encodeBatch(entries []stored) ([]byte, error) {
	b, err := json.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("audit: encode batch: %w", err)
	}
	return compressBatch(b), nil
}

// decodeBatch reads a stored batch (or a single entry of the older layout)
// and derives each entry's id from the revision that wrote it.
func decodeBatch(kv *store.KV) ([]Entry, error) {
	raw, err := batchJSON(kv.Value)
	if err != nil {
		return nil, fmt.Errorf("audit: decode %s: %w", kv.Key, err)
	}
	var batch []stored
	if len(raw) > 0 && raw[0] == '{' {
		batch = make([]stored, 1)
		err = json.Unmarshal(raw, &batch[0])
	} else {
		err = json.Unmarshal(raw, &batch)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: decode %s: %w", kv.Key, err)
	}
	out := make([]Entry, len(batch))
	for i, s := range batch {
		if s.Entry.ID == 0 {
			s.Entry.ID = kv.ModRevision*idSpan + int64(s.Seq)
		}
		out[i] = s.Entry
	}
	return out, nil
}

// newestFirst orders entries by time, newest first; the node id breaks
// ties (two nodes may stamp the same nanosecond).
func newestFirst(a, b Entry) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return cmp.Compare(b.NodeID, a.NodeID)
}

// resultText is how a status reads in the result column.
func resultText(status int) string {
	if t := http.StatusText(status); t != "" {
		return strconv.Itoa(status) + " " + t
	}
	return strconv.Itoa(status)
}

// truncate caps s at n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// matchOperation is the operation filter: a case-insensitive substring, so
// etcdmonitor's filter values ("login", "put", "delete") and a full
// operation ("POST /api/auth/login") both work.
func matchOperation(op, filter string) bool {
	return strings.Contains(strings.ToLower(op), strings.ToLower(filter))
}
