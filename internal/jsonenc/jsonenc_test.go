package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// stringCases reach every branch of String: plain ASCII, each short
// escape, other control bytes, the HTML characters, multi-byte runes,
// the JavaScript line terminators, invalid and truncated UTF-8.
var stringCases = []string{
	"", "plain", `quote " and \ backslash`, "\b\f\n\r\t", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "héllo 世界 🙂", "a\u2028b\u2029c", "\xff", "ab\xe4\xb8", "\xed\xa0\x80",
	"mixed\x00<é>\u2028\xfe end",
	// Eight-byte runs with the escape in each place of a word.
	"0123456789abcdef", "0123456789abcde\"", "01234567\\9abcdef", "abcdefgh\x1fijklmnop", "abcdefg>hijklmnop&",
	"\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f~", "aaaaaaaé", "aaaaaaaa\u2028aaaaaaaa", "        \x00       ", "!#$%'()*+,-./:;=?@[]^_`{|}~",
}

func TestStringMatchesMarshal(t *testing.T) {
	for _, s := range stringCases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("String(%q) = %s, json.Marshal = %s", s, got[1:], want)
		}
	}
}

func FuzzStringMatchesMarshal(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("String(%q) = %s, json.Marshal = %s", s, got, want)
		}
	})
}

func TestFieldSeparatesMembers(t *testing.T) {
	b := append([]byte(nil), '{')
	b = Field(b, "a")
	b = Int(b, -3)
	b = Field(b, "b")
	b = Bool(b, true)
	b = Field(b, "c")
	b = Uint(b, 18446744073709551615)
	b = StringField(b, "d", "", true)
	b = StringField(b, "e", "", false)
	b = StringField(b, "f", "<x>", true)
	b = append(b, '}')
	if want := `{"a":-3,"b":true,"c":18446744073709551615,"e":"","f":"\u003cx\u003e"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func BenchmarkStringPlain(b *testing.B) {
	s := strings.Repeat("v", 256)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = String(buf[:0], s)
	}
}
