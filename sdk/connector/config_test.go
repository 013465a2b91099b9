package connector

import (
	"strings"
	"testing"
	"time"
)

var keys = []ConfigKey{
	{Name: "url", Type: "string", Required: true, Scope: "open"},
	{Name: "timeout", Type: "duration", Default: "5s", Scope: "open"},
	{Name: "retries", Type: "int", Default: 3.0, Scope: "open"},
	{Name: "proxy", Type: "string", Scope: "host"},
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig([]byte(`{"url": "http://x", "retries": 5}`), keys)
	if err != nil {
		t.Fatal(err)
	}
	if c.String("url") != "http://x" || !c.Has("timeout") {
		t.Fatalf("values %v", c.values)
	}
	if d, err := c.Duration("timeout"); err != nil || d != 5*time.Second {
		t.Fatalf("timeout %v %v", d, err)
	}
	if n, err := c.Int("retries"); err != nil || n != 5 {
		t.Fatalf("retries %v %v", n, err)
	}
	var s struct {
		URL     string `json:"url"`
		Retries int    `json:"retries"`
	}
	if err := c.Decode(&s); err != nil || s.URL != "http://x" || s.Retries != 5 {
		t.Fatalf("decode %+v %v", s, err)
	}
	for doc, words := range map[string]string{
		`{}`:                           "url is required",
		`{"url": "x", "colour": 1}`:    "unknown key colour",
		`{"url": "x", "proxy": "p"}`:   "unknown key proxy", // a host key is not an open key
		`not json`:                     "not a JSON object",
		`{"url": "x", "timeout": "5"}`: "",
	} {
		c, err := parseConfig([]byte(doc), keys)
		if words == "" {
			if _, derr := c.Duration("timeout"); err != nil || derr == nil {
				t.Errorf("%s: parse %v, duration %v", doc, err, derr)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("%s: %v, want %q", doc, err, words)
		}
	}
	// Without declared keys anything goes.
	if _, err := parseConfig([]byte(`{"a": 1}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig(nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestEachRecordReportsProgress(t *testing.T) {
	batch := make([]Record, 5)
	err := EachRecord(batch, func(Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = EachRecord(batch, func(Record) error {
		n++
		if n == 3 {
			return errTest
		}
		return nil
	})
	pe, ok := err.(*PartialError)
	if !ok || pe.Written != 2 || pe.Err != errTest {
		t.Fatalf("partial: %v", err)
	}
}

type testErr struct{}

func (testErr) Error() string { return "test" }

var errTest error = testErr{}
