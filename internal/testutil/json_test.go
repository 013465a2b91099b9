package testutil

import "testing"

func TestStrictJSON(t *testing.T) {
	type target struct {
		Name     string `json:"name"`
		MaxItems int    `json:"max_items"`
	}
	for body, want := range map[string]bool{
		`{"name":"a","max_items":1}`: true,
		` {"NAME":"a"} `:             true,
		`{"Max_Items":1}`:            true,
		`{"max-items":1}`:            false, // only case is ignored
		`{"name":"a","x":1}`:         false,
		`{"name":"a"} {}`:            false,
		`{"name":"a","name":"b"}`:    false,
		"{\"name\":\"\xff\"}":        false,
		`{"max_items":"1"}`:          false,
		``:                           false,
		`{"name":`:                   false,
	} {
		if got := StrictJSON([]byte(body), new(target)); got != want {
			t.Errorf("StrictJSON(%q) = %v, want %v", body, got, want)
		}
	}
}
