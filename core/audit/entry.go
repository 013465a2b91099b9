package audit

import (
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

// stored is an entry as written: its place in the batch makes the id.
type stored struct {
	Entry
	Seq int `json:"seq"`
}

// keyPrefix is where entries live; a key is e/<20-digit nanos>/<node id>.
const keyPrefix = "e/"

func entryKey(nanos int64, node uint64) string {
	return fmt.Sprintf("%s%020d/%d", keyPrefix, nanos, node)
}

// timeBound is the smallest key at or after nanos: every key below it is
// older.
func timeBound(nanos int64) string {
	return fmt.Sprintf("%s%020d", keyPrefix, nanos)
}

func (e *Entry) key() string { return entryKey(e.Time.UnixNano(), e.NodeID) }

// decodeEntry reads a stored entry and derives its id from the revision
// that wrote it.
func decodeEntry(kv *store.KV) (Entry, error) {
	var s stored
	if err := json.Unmarshal(kv.Value, &s); err != nil {
		return Entry{}, fmt.Errorf("audit: decode %s: %w", kv.Key, err)
	}
	s.Entry.ID = kv.ModRevision*idSpan + int64(s.Seq)
	return s.Entry, nil
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
