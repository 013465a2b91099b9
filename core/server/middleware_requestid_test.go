package server

import "testing"

func TestMadeRequestIDsAreUniqueAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if !validRequestID(id) || seen[id] {
			t.Fatalf("request id %q: valid %v, seen before %v", id, validRequestID(id), seen[id])
		}
		seen[id] = true
	}
}
