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
		"utf8_validation NONE":             true,
	}
	for _, tc := range []struct {
		schema string
		cases  []payloadCase
	}{{shopProto, shopCases(t)}, {legacyProto, legacyCases(t)}, {editionsProto, editionsCases}} {
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
	schemas := []*schema{mustCompile(f, shopProto), mustCompile(f, legacyProto), mustCompile(f, mixedProto), mustCompile(f, editionsProto)}
	for i, cases := range [][]payloadCase{shopCases(f), legacyCases(f)} {
		for _, c := range cases {
			f.Add(uint8(i), c.payload)
		}
	}
	f.Add(uint8(2), []byte{0x0a, 0x02, 0x01, 0x02, 0x13, 0x08, 0x01, 0x14, 0x1a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x25, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		s := schemas[int(which)%len(schemas)]
		fast := s.fast.surelyValid(payload, 0)
		if err := s.slow(payload); fast && err != nil {
			t.Fatalf("the fast path vouches for % x, the slow path says %v", payload, err)
		}
	})
}

// mixedProto has what the shop and legacy schemas lack: a group, a packed
// closed enum, a map with closed enum values, fixed-width packed fields.
const mixedProto = `syntax = "proto2";
package mixed;

enum Kind {
  A = 1;
  B = 2;
}

message M {
  repeated Kind kinds = 1 [packed = true];
  optional group G = 2 {
    required int32 x = 1;
  }
  map<int32, Kind> by_id = 3;
  repeated fixed32 f = 4 [packed = true];
  repeated double d = 5;
  optional M self = 6;
}
`
