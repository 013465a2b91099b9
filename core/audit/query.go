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
//
// Batches of different nodes overlap in time, so the page is cut from all
// entries in time order; the log is bounded by MaxEntries, so this stays a
// bounded read.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	if q.Page <= 0 {
		q.Page = 1
	}
	if q.PageSize <= 0 {
		q.PageSize = DefaultPageSize
	}
	q.PageSize = min(q.PageSize, MaxPageSize)
	page := Page{Entries: []Entry{}, Page: q.Page, PageSize: q.PageSize}
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
			if q.Operation == "" || matchOperation(e.Operation, q.Operation) {
				match = append(match, e)
			}
		}
	}
	slices.SortFunc(match, newestFirst)
	page.Total = len(match)
	if q.Page > page.Total { // also keeps the product below from overflowing
		return page, nil
	}
	skip := (q.Page - 1) * q.PageSize
	if skip >= page.Total {
		return page, nil
	}
	page.Entries = append(page.Entries, match[skip:min(page.Total, skip+q.PageSize)]...)
	return page, nil
}
