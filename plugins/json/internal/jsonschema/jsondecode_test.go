package jsonschema

// Trellis change: not upstream's. The decoder of jsondecode.go must accept,
// build and refuse exactly as encoding/json did where it replaced it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// upstreamUnmarshalJSON is UnmarshalJSON as upstream wrote it.
func upstreamUnmarshalJSON(r io.Reader) (any, error) {
	decoder := json.NewDecoder(r)
	decoder.UseNumber()
	var doc any
	if err := decoder.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := decoder.Token(); err == nil || err != io.EOF {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return doc, nil
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func compareJSONDecode(t *testing.T, b []byte) {
	t.Helper()
	got, err := UnmarshalJSON(bytes.NewReader(b))
	want, wantErr := upstreamUnmarshalJSON(bytes.NewReader(b))
	if errText(err) != errText(wantErr) || !reflect.DeepEqual(got, want) {
		t.Errorf("UnmarshalJSON(%q) = %#v, %v; encoding/json: %#v, %v", b, got, err, want, wantErr)
	}
	var v any
	wantErr = json.Unmarshal(b, &v)
	if err := checkJSON(b); errText(err) != errText(wantErr) {
		t.Errorf("checkJSON(%q) = %v; json.Unmarshal: %v", b, err, wantErr)
	}
}

var jsonDecodeCases = []string{
	``, ` `, "\t\r\n", `null`, `true`, `false`, `nul`, `tru`, `fals`, `nulx`, `trux`, `falsx`, `t`, `f`, `n`,
	`0`, `-0`, `-`, `-x`, `01`, `-01`, `1.`, `1.x`, `1.5`, `1e`, `1e+`, `1e-`, `1ex`, `1e+x`, `1E5`, `1.5e-3`,
	`123456789012345678901234567890`, `1e400`, `-1e400`, `1e-400`, `[1e400, 2e400]`, `{"a": 1e999}`,
	`1x`, `1 x`, `1 2`, `{} x`, `[]]`, `"a" "b"`, `{}{}`, `[] `, ` {} `,
	`"`, `"abc`, `"\`, `"\x"`, `"\u"`, `"\u12"`, `"\u12g4"`, `"\u1234"`, `"\uD83D\uDE00"`, `"\uD83D"`,
	`"\uDE00"`, `"\uD83Dx"`, `"\uD83D\u0041"`, `"\uD83D\uD83D\uDE00"`, `"\b\f\n\r\t\\\/\""`, `"\'"`,
	"\"a\x00b\"", "\"a\x1fb\"", "\"a\x7fb\"", "\"\xff\"", "\"\xe2\x82\"", "\"\xe2\x82a\"", "\"é€😀\"",
	"\"\xed\xa0\x80\"", "\xff", "\xc3\xa9", `'a'`, `x`, `}`, `]`, `,`, `:`,
	`{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`, `{,}`,
	`{"a":1,"a":2}`, `{"":[]}`, `{ "a" : [ 1 , { "b" : null } ] }`, `[`, `[1`, `[1,`, `[1,]`, `[,1]`,
	`[1 2]`, `[01]`, `[-]`, `[1.]`, `[tru]`, `[{]`, `[{}]`, `[[]]`, `[[[[[`, `[]`, `{}`,
	`{"a":"\u00e9\n"}`, `[true,false,null,"x",1.25,-3]`, "[1,\n2]\n", "\ufeff{}",
}

func TestJSONDecodeCases(t *testing.T) {
	for _, c := range jsonDecodeCases {
		compareJSONDecode(t, []byte(c))
	}
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	compareJSONDecode(t, []byte(deep))
	compareJSONDecode(t, []byte("["+deep+"]"))
	compareJSONDecode(t, []byte(strings.Repeat(`{"a":`, 10001)))
	compareJSONDecode(t, []byte(strings.Repeat(`[`, 10000)))
}

func TestJSONDecodeRandom(t *testing.T) {
	tokens := []string{`{`, `}`, `[`, `]`, `,`, `:`, ` `, "\n", `"`, `"a"`, `"\u00e9"`, `"\uD83D`, `\uDE00"`,
		`\`, `u`, `0`, `1`, `-`, `.`, `e`, `E`, `+`, `9`, `true`, `fals`, `null`, `x`, "\xff", "\x01", `1e400`}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 50000; i++ {
		var sb strings.Builder
		for n := r.Intn(12); n >= 0; n-- {
			sb.WriteString(tokens[r.Intn(len(tokens))])
		}
		compareJSONDecode(t, []byte(sb.String()))
	}
	// Mutations of valid documents: truncated, and with a byte replaced.
	docs := []string{`{"type":"object","properties":{"a":{"minimum":1.5e3}},"required":["a"]}`,
		`[1,-2.5e-3,"s\u00e9\n",true,false,null,{"k":[{}]}]`}
	for _, d := range docs {
		for i := 0; i <= len(d); i++ {
			compareJSONDecode(t, []byte(d[:i]))
			for _, c := range []byte("x \"\\{}[],:0-.eE\x00\xff") {
				b := []byte(d)
				if i < len(b) {
					b[i] = c
					compareJSONDecode(t, b)
				}
			}
		}
	}
}

func FuzzJSONDecode(f *testing.F) {
	for _, c := range jsonDecodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareJSONDecode(t, b)
	})
}
