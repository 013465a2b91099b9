package jsonschema

import (
	"strings"
	"testing"
)

// TestLazyDrafts checks the Trellis change: nothing is compiled at init,
// and the first schema added is still checked against its meta-schema.
func TestLazyDrafts(t *testing.T) {
	if Draft2020.sch != nil {
		t.Fatal("meta-schemas compiled before first use")
	}
	doc, err := UnmarshalJSON(strings.NewReader(`{"type": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCompiler()
	err = c.AddResource("bad.json", doc)
	if err == nil {
		_, err = c.Compile("bad.json")
	}
	if err == nil {
		t.Fatal(`{"type": 5} compiled`)
	}
	for _, d := range []*Draft{Draft4, Draft6, Draft7, Draft2019, Draft2020} {
		if d.sch == nil {
			t.Fatalf("%s not compiled after first use", d)
		}
	}
	c = NewCompiler()
	doc, _ = UnmarshalJSON(strings.NewReader(`{"type": "object", "required": ["a"]}`))
	if err := c.AddResource("ok.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("ok.json")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := UnmarshalJSON(strings.NewReader(`{}`))
	if sch.Validate(v) == nil {
		t.Fatal("{} is valid without a required property")
	}
}
