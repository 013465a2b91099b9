package jsonschema

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

var compiledAtInit = Draft4.sch != nil || Draft6.sch != nil || Draft7.sch != nil ||
	Draft2019.sch != nil || Draft2020.sch != nil

func compileDoc(t *testing.T, url, doc string) (*Schema, error) {
	t.Helper()
	v, err := UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCompiler()
	if err := c.AddResource(url, v); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// TestLazyDrafts checks the Trellis change: nothing is compiled at init, a
// draft's meta-schemas are compiled when a schema of that draft is first
// checked, and schemas are still checked against them.
func TestLazyDrafts(t *testing.T) {
	if compiledAtInit {
		t.Fatal("meta-schemas compiled at init")
	}
	fresh := Draft4.sch == nil // not so with -count 2
	if _, err := compileDoc(t, "bad.json", `{"type": 5}`); err == nil {
		t.Fatal(`{"type": 5} compiled`)
	}
	if Draft2020.sch == nil || Draft2020.vocabSchemas["core"] == nil {
		t.Fatal("draft 2020-12 not compiled after first use")
	}
	if fresh && Draft4.sch != nil {
		t.Fatal("draft 4 compiled for a 2020-12 schema")
	}
	if _, err := compileDoc(t, "bad4.json", `{"$schema": "http://json-schema.org/draft-04/schema#", "minimum": "x"}`); err == nil {
		t.Fatal("an invalid draft-04 schema compiled")
	}
	if Draft4.sch == nil {
		t.Fatal("draft 4 not compiled after first use")
	}
	sch, err := compileDoc(t, "ok.json", `{"type": "object", "required": ["a"]}`)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := UnmarshalJSON(strings.NewReader(`{}`))
	if sch.Validate(v) == nil {
		t.Fatal("{} is valid without a required property")
	}
}

// TestLazyDraftsConcurrent compiles schemas of every draft at once (run it
// with -race).
func TestLazyDraftsConcurrent(t *testing.T) {
	urls := []string{
		"http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
		"http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2019-09/schema",
		"https://json-schema.org/draft/2020-12/schema",
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf(`{"$schema": %q, "type": "integer", "minimum": %d}`, urls[i%len(urls)], i)
			if _, err := compileDoc(t, fmt.Sprintf("s%d.json", i), doc); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
