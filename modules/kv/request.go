package kv

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/store"
)

// checkKey applies the module's key rules: present, at most MaxKeyBytes.
func checkKey(key string) error {
	if key == "" {
		return apierr.BadRequest("key is required")
	}
	if len(key) > MaxKeyBytes {
		return apierr.Errorf(http.StatusBadRequest, codeKeyTooLarge, "key is %d bytes, the limit is %d", len(key), MaxKeyBytes)
	}
	return nil
}

func checkValue(v string) error {
	if len(v) > MaxValueBytes {
		return apierr.Errorf(http.StatusRequestEntityTooLarge, codeValueTooLarge, "value is %d bytes, the limit is %d", len(v), MaxValueBytes)
	}
	return nil
}

// checkPut validates a put body before anything is proposed.
func checkPut(req *PutRequest) error {
	if err := checkKey(req.Key); err != nil {
		return err
	}
	if err := checkValue(req.Value); err != nil {
		return err
	}
	if req.TTL < 0 || req.TTL > MaxTTL {
		return apierr.BadRequest("ttl must be 0 to %d seconds, got %d", MaxTTL, req.TTL)
	}
	if req.PrevValue != nil {
		if err := checkValue(*req.PrevValue); err != nil {
			return err
		}
	}
	if req.PrevVersion != nil && *req.PrevVersion < 0 {
		return apierr.BadRequest("prev_version must be 0 or more, got %d", *req.PrevVersion)
	}
	return nil
}

func ttlDuration(ttl int64) time.Duration { return time.Duration(ttl) * time.Second }

// ttlLeft is the whole seconds a key has left, rounded up; 0 for a key
// without a TTL. A key past its expiry that the leader has not removed yet
// reports 1: it exists, briefly.
func ttlLeft(expireAt int64, now time.Time) int64 {
	if expireAt == 0 {
		return 0
	}
	ms := expireAt - now.UnixMilli()
	if ms <= 0 {
		return 1
	}
	return (ms + 999) / 1000
}

// queryBool parses an optional boolean query parameter.
func queryBool(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, apierr.BadRequest("query parameter %s must be true or false, got %q", name, s)
	}
	return b, nil
}

// queryRevision parses an optional positive revision query parameter; 0
// means absent.
func queryRevision(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, apierr.BadRequest("query parameter %s must be a revision (an integer of 1 or more), got %q", name, s)
	}
	return n, nil
}

// readOptions reads ?revision=N and ?serializable=true.
func readOptions(r *http.Request) (store.ReadOptions, error) {
	q := r.URL.Query()
	rev, err := queryRevision(q, "revision")
	if err != nil {
		return store.ReadOptions{}, err
	}
	ser, err := queryBool(q, "serializable")
	if err != nil {
		return store.ReadOptions{}, err
	}
	return store.ReadOptions{Revision: rev, Serializable: ser}, nil
}

// checkTab accepts etcdmonitor's tab_id only for the default tab: this
// module serves one cluster, the one it runs in.
func checkTab(r *http.Request) error {
	switch id := r.URL.Query().Get("tab_id"); id {
	case "", "default":
		return nil
	default:
		return apierr.Errorf(http.StatusNotFound, codeTabNotFound, "multi-cluster tabs not enabled")
	}
}

// formatSize is etcdmonitor's size_str formatting.
func formatSize(size int64) string {
	const (
		kb = 1024
		mb = kb * 1024
		gb = mb * 1024
	)
	switch {
	case size >= gb:
		return fmt.Sprintf("%.2f GB", float64(size)/gb)
	case size >= mb:
		return fmt.Sprintf("%.2f MB", float64(size)/mb)
	case size >= kb:
		return fmt.Sprintf("%.2f KB", float64(size)/kb)
	default:
		return fmt.Sprintf("%d B", size)
	}
}
