package audit

import (
	"context"
	"fmt"
	"slices"

	"github.com/trellis-cp/trellis/core/store"
)

// Paging defaults, as etcdmonitor's /api/ops/audit-logs applies them.
const (
	DefaultPageSize = 20
	MaxPageSize     = 1000
)

// Query selects a page of the log, newest first.
type Query struct {
	// Page is 1-based; 0 or less means 1.
	Page int
	// PageSize is 1..MaxPageSize; 0 or less means DefaultPageSize.
	PageSize int
	// Operation keeps entries whose operation contains it, ignoring case:
	// "login", "DELETE" or "POST /api/auth/login". Empty keeps all.
	Operation string
}

// Page is one page of entries, in etcdmonitor's audit-logs shape.
type Page struct {
	Entries  []Entry `json:"entries"`
	Total    int     `json:"total"`
	Page     int     `json:"page"`
	PageSize int     `json:"page_size"`
}

// List returns a page of entries, newest first, with the number of entries
// that match the query. It is a linearizable read: an entry flushed on any
// node before the call is seen. Entries still in a node's buffer (up to
// FlushInterval old) are not.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	if q.Page <= 0 {
		q.Page = 1
	}
	if q.PageSize <= 0 {
		q.PageSize = DefaultPageSize
	}
	q.PageSize = min(q.PageSize, MaxPageSize)
	page := Page{Entries: []Entry{}, Page: q.Page, PageSize: q.PageSize}
	if q.Operation != "" {
		return l.listFiltered(ctx, q, page)
	}
	// Without a filter the keys give the total, and only the newest
	// batches are read: enough of them that no unread batch can hold an
	// entry of the page.
	keys, err := l.ns.List(ctx, keyPrefix, store.ListOptions{KeysOnly: true})
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	batches := make([]batchMeta, 0, len(keys.KVs))
	for _, kv := range keys.KVs {
		m, err := parseBatchKey(kv.Key)
		if err != nil {
			return Page{}, err
		}
		batches = append(batches, m)
		page.Total += m.count
	}
	skip, end, ok := pageBounds(page.Total, q)
	if !ok {
		return page, nil
	}
	var read []Entry
	for i := len(batches) - 1; i >= 0; i-- {
		kv, err := l.ns.Get(ctx, batches[i].key, store.ReadOptions{Revision: keys.Revision, Serializable: true})
		if err != nil {
			return Page{}, fmt.Errorf("audit: list: %w", err)
		}
		entries, err := decodeBatch(kv)
		if err != nil {
			return Page{}, err
		}
		read = append(read, entries...)
		// Every entry of an unread batch is at most as new as that
		// batch's newest, the next key down.
		if i > 0 && newerThan(read, batches[i-1].last) < end {
			continue
		}
		break
	}
	slices.SortFunc(read, newestFirst)
	if skip < len(read) { // fewer only if a key miscounts its batch
		page.Entries = append(page.Entries, read[skip:min(end, len(read))]...)
	}
	return page, nil
}

// newerThan counts the entries stamped after nanos.
func newerThan(entries []Entry, nanos int64) int {
	n := 0
	for i := range entries {
		if entries[i].Time.UnixNano() > nanos {
			n++
		}
	}
	return n
}

// pageBounds is the index range, in newest-first order, of q's page of
// total entries; ok is false when the page is past the end.
func pageBounds(total int, q Query) (skip, end int, ok bool) {
	if q.Page > total { // also keeps the product below from overflowing
		return 0, 0, false
	}
	skip = (q.Page - 1) * q.PageSize
	if skip >= total {
		return 0, 0, false
	}
	return skip, min(total, skip+q.PageSize), true
}

// listFiltered reads every batch, keeps the matching entries and pages
// them. The log is bounded by MaxEntries, so this stays a bounded read.
func (l *Log) listFiltered(ctx context.Context, q Query, page Page) (Page, error) {
	res, err := l.ns.List(ctx, keyPrefix, store.ListOptions{})
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	var match []Entry
	for _, kv := range res.KVs {
		entries, err := decodeBatch(kv)
		if err != nil {
			return Page{}, err
		}
		for _, e := range entries {
			if matchOperation(e.Operation, q.Operation) {
				match = append(match, e)
			}
		}
	}
	page.Total = len(match)
	skip, end, ok := pageBounds(page.Total, q)
	if !ok {
		return page, nil
	}
	slices.SortFunc(match, newestFirst)
	page.Entries = append(page.Entries, match[skip:end]...)
	return page, nil
}
