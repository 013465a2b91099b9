package main

import (
	"testing"
)

// TestFastPath: the fast path vouches for the valid payloads of the test
// cases (but for the kinds it leaves to the slow path) and for none of
// the invalid ones.
func TestFastPath(t *testing.T) {
	slowOnly := map[string]bool{
		"declared extension":               true,
		"proto2 strings need not be UTF-8": true,
	}
	for _, tc := range []struct {
		schema string
		cases  []payloadCase
	}{{shopProto, shopCases(t)}, {legacyProto, legacyCases(t)}} {
		s := mustCompile(t, tc.schema)
		for _, c := range tc.cases {
			fast := s.fast.surelyValid(c.payload, 0)
			switch {
			case c.want != "" && fast:
				t.Errorf("%s: the fast path vouches for an invalid payload", c.name)
			case c.want == "" && fast == slowOnly[c.name]:
				t.Errorf("%s: fast path %v", c.name, fast)
			}
		}
	}
}

func mustCompile(t testing.TB, src string) *schema {
	t.Helper()
	s, err := compile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s.(*schema)
}

// FuzzFastPath: whatever the fast path vouches for, the slow path
// (dynamicpb and the walk) accepts; and Validate does not panic.
func FuzzFastPath(f *testing.F) {
	schemas := []*schema{mustCompile(f, shopProto), mustCompile(f, legacyProto)}
	for i, cases := range [][]payloadCase{shopCases(f), legacyCases(f)} {
		for _, c := range cases {
			f.Add(uint8(i), c.payload)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		s := schemas[int(which)%len(schemas)]
		fast := s.fast.surelyValid(payload, 0)
		if err := s.slow(payload); fast && err != nil {
			t.Fatalf("the fast path vouches for % x, the slow path says %v", payload, err)
		}
	})
}
