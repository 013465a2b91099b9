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
	// Without a filter only the page's values are read: the keys give the
	// total and where the page starts.
	keys, err := l.ns.List(ctx, keyPrefix, store.ListOptions{KeysOnly: true})
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	page.Total = len(keys.KVs)
	lo, hi := window(page.Total, q.Page, q.PageSize)
	if lo == hi {
		return page, nil
	}
	opts := store.ListOptions{Limit: hi - lo, Revision: keys.Revision, Serializable: true}
	if lo > 0 {
		opts.After = keys.KVs[lo-1].Key
	}
	res, err := l.ns.List(ctx, keyPrefix, opts)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	for _, kv := range res.KVs {
		e, err := decodeEntry(kv)
		if err != nil {
			return Page{}, err
		}
		page.Entries = append(page.Entries, e)
	}
	slices.Reverse(page.Entries)
	return page, nil
}

// listFiltered reads every entry, keeps the matching ones and pages them.
// The log is bounded by MaxEntries, so this stays a bounded scan.
func (l *Log) listFiltered(ctx context.Context, q Query, page Page) (Page, error) {
	res, err := l.ns.List(ctx, keyPrefix, store.ListOptions{})
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	var match []Entry
	for _, kv := range res.KVs {
		e, err := decodeEntry(kv)
		if err != nil {
			return Page{}, err
		}
		if matchOperation(e.Operation, q.Operation) {
			match = append(match, e)
		}
	}
	page.Total = len(match)
	lo, hi := window(page.Total, q.Page, q.PageSize)
	page.Entries = append(page.Entries, match[lo:hi]...)
	slices.Reverse(page.Entries)
	return page, nil
}

// window is the index range, in oldest-first order, of the given page of a
// newest-first listing of total entries.
func window(total, page, size int) (lo, hi int) {
	if page > total { // also keeps the product below from overflowing
		return 0, 0
	}
	skip := (page - 1) * size
	if skip >= total {
		return 0, 0
	}
	hi = total - skip
	return max(0, hi-size), hi
}
