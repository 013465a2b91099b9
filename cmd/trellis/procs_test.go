package main

import "testing"

func TestServeProcs(t *testing.T) {
	cases := []struct {
		env           string
		current, want int
	}{
		{"", 1, 1 + extraProcs},
		{"", 2, 2 + extraProcs},
		{"", 32, 32 + extraProcs},
		{"2", 2, 2}, // the operator's setting stands
		{"7", 7, 7},
	}
	for _, c := range cases {
		if got := serveProcs(c.env, c.current); got != c.want {
			t.Errorf("serveProcs(%q, %d) = %d, want %d", c.env, c.current, got, c.want)
		}
	}
}
