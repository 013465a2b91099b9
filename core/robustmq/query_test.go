package robustmq

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/core/apierr"
)

type row struct{ Name, Tenant string }

func field(r row, name string) string {
	if name == "tenant" {
		return r.Tenant
	}
	return r.Name
}

func names(rows []row) string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Name)
	}
	return strings.Join(s, ",")
}

func TestParseAndApply(t *testing.T) {
	rows := []row{{"b", "t1"}, {"a", "t2"}, {"d", "T1"}, {"c", "t3"}, {"e", "x"}}
	fields := []string{"name", "tenant"}
	for _, c := range []struct {
		query string
		want  string
		total int
	}{
		{"", "b,a,d,c,e", 5},
		{"sort_field=name", "e,d,c,b,a", 5}, // RobustMQ sorts descending by default
		{"sort_field=name&sort_by=asc", "a,b,c,d,e", 5},
		{"sort_field=name&sort_by=asc&limit=2", "a,b", 5},
		{"sort_field=name&sort_by=asc&limit=2&page=3", "e", 5},
		{"sort_field=name&limit=2&page=4", "", 5},
		{"filter_field=tenant&filter_values=t1", "b,d", 2}, // case-insensitive
		{"filter_field=tenant&filter_values=t1,t3", "b,d,c", 3},
		{"filter_field=tenant&filter_values=t1&filter_values=x", "b,d,e", 3},
		{"filter_field=tenant&filter_values=t&exact_match=fuzzy&sort_field=name&sort_by=asc", "a,b,c,d", 4},
		{"filter_field=tenant&filter_values=t", "", 0},
	} {
		q, err := ParseQuery(httptest.NewRequest("GET", "/x?"+c.query, nil), fields)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		page, total := Apply(rows, q, field)
		if names(page) != c.want || total != c.total {
			t.Errorf("%s: %q total %d, want %q total %d", c.query, names(page), total, c.want, c.total)
		}
	}
	if names(rows) != "b,a,d,c,e" {
		t.Fatalf("Apply reordered its input: %s", names(rows))
	}
}

func TestParseQueryErrors(t *testing.T) {
	for query, want := range map[string]string{
		"page=0":                     "page",
		"page=-1":                    "page",
		"page=x":                     "page",
		"limit=0":                    "limit",
		"limit=100001":               "at most",
		"limit=1.5":                  "limit",
		"page=99999999999999999999":  "page",
		"sort_field=color":           `cannot sort by "color" (sortable: name, tenant)`,
		"sort_field=name&sort_by=up": "sort_by",
		"filter_field=x":             "filter_field",
		"exact_match=maybe":          "exact_match",
	} {
		_, err := ParseQuery(httptest.NewRequest("GET", "/x?"+query, nil), []string{"name", "tenant"})
		var e *apierr.Error
		if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, want) ||
			!strings.HasPrefix(e.Message, "Parameter validation failed: ") {
			t.Errorf("%s: %v, want a 400 Parameter validation failed mentioning %q", query, err, want)
		}
	}
}

func TestLength(t *testing.T) {
	if err := Length("schema_name", "Schema name", "ß", 1, 1); err != nil {
		t.Errorf("one rune of two bytes: %v", err)
	}
	for _, c := range []struct {
		v        string
		min, max int
		want     string
	}{
		{"", 1, 128, "Parameter validation failed: schema_name: Schema name length must be between 1-128"},
		{strings.Repeat("x", 129), 1, 128, "Schema name length must be between 1-128"},
		{strings.Repeat("x", 501), 0, 500, "Schema name length cannot exceed 500"},
	} {
		err := Length("schema_name", "Schema name", c.v, c.min, c.max)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d runes in %d..%d: %v, want %q", len(c.v), c.min, c.max, err, c.want)
		}
	}
	if !reflect.DeepEqual(FirstError(nil, errors.New("a"), errors.New("b")), errors.New("a")) {
		t.Error("FirstError")
	}
}
