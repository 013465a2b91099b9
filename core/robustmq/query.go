package robustmq

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// List query defaults: RobustMQ's documented page size is 100 and pages
// count from 1.
const (
	DefaultLimit = 100
	// MaxLimit bounds a page so one request cannot ask for everything.
	MaxLimit = 10_000
)

// Query is a list request's paging, sorting and generic filter.
type Query struct {
	Page, Limit int
	// SortField is empty for the list's natural order; SortDesc is true
	// unless sort_by is "asc" (RobustMQ sorts descending by default).
	SortField string
	SortDesc  bool
	// FilterField and FilterValues keep rows whose field equals one of the
	// values (case-insensitively), or contains one when Fuzzy.
	FilterField  string
	FilterValues []string
	Fuzzy        bool
}

// Page is the data of a list answer: {"data":[...],"total_count":N}.
type Page[T any] struct {
	Data       []T `json:"data"`
	TotalCount int `json:"total_count"`
}

// ParseQuery reads page, limit, sort_field, sort_by, filter_field,
// filter_values (repeated, or comma-separated) and exact_match from r's
// query. fields are the names a list can sort and filter on; any other
// sort_field or filter_field is a 400 naming them, as are a page or limit
// that is not a positive number.
func ParseQuery(r *http.Request, fields []string) (Query, error) {
	v := r.URL.Query()
	q := Query{Page: 1, Limit: DefaultLimit, SortDesc: true}
	var err error
	if q.Page, err = positive(v, "page", 1, 1<<30); err != nil {
		return q, err
	}
	if q.Limit, err = positive(v, "limit", DefaultLimit, MaxLimit); err != nil {
		return q, err
	}
	if f := v.Get("sort_field"); f != "" {
		if !slices.Contains(fields, f) {
			return q, Invalid("sort_field", "cannot sort by %q (sortable: %s)", f, strings.Join(fields, ", "))
		}
		q.SortField = f
	}
	switch by := v.Get("sort_by"); by {
	case "", "desc":
	case "asc":
		q.SortDesc = false
	default:
		return q, Invalid("sort_by", "want asc or desc, got %q", by)
	}
	if f := v.Get("filter_field"); f != "" {
		if !slices.Contains(fields, f) {
			return q, Invalid("filter_field", "cannot filter on %q (fields: %s)", f, strings.Join(fields, ", "))
		}
		q.FilterField = f
		for _, s := range v["filter_values"] {
			for _, part := range strings.Split(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					q.FilterValues = append(q.FilterValues, strings.ToLower(part))
				}
			}
		}
	}
	switch m := v.Get("exact_match"); m {
	case "", "exact", "true":
	case "fuzzy", "false":
		q.Fuzzy = true
	default:
		return q, Invalid("exact_match", "want exact or fuzzy, got %q", m)
	}
	return q, nil
}

func positive(v url.Values, name string, def, max int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, Invalid(name, "want a positive whole number, got %q", s)
	}
	if max > 0 && n > max {
		return 0, Invalid(name, "at most %d, got %d", max, n)
	}
	return n, nil
}

// Apply filters, sorts and pages rows by q; field reads a row's field by
// name. total is the count after filtering, before paging.
func Apply[T any](rows []T, q Query, field func(row T, name string) string) (page []T, total int) {
	if q.FilterField != "" && len(q.FilterValues) > 0 {
		kept := rows[:0:0]
		for _, r := range rows {
			got := strings.ToLower(field(r, q.FilterField))
			if slices.ContainsFunc(q.FilterValues, func(want string) bool {
				if q.Fuzzy {
					return strings.Contains(got, want)
				}
				return got == want
			}) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	if q.SortField != "" {
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b T) int {
			c := cmp.Compare(field(a, q.SortField), field(b, q.SortField))
			if q.SortDesc {
				return -c
			}
			return c
		})
	}
	total = len(rows)
	start := (q.Page - 1) * q.Limit
	if start >= total {
		return []T{}, total
	}
	end := min(start+q.Limit, total)
	return rows[start:end], total
}
