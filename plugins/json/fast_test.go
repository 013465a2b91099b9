package main

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/trellis-cp/trellis/plugins/json/internal/jsonschema"
	"github.com/trellis-cp/trellis/sdk/validator"
)

func mustFast(t testing.TB, src string) *fastSchema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(src)))
	if err != nil {
		t.Fatal(err)
	}
	return compileFast(doc)
}

// library is Validate without the fast path: the library's verdict.
func library(t testing.TB, src string) validator.Schema {
	t.Helper()
	s, err := compileWith([]byte(src), false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFastSubset: which schemas get a fast path.
func TestFastSubset(t *testing.T) {
	for _, tc := range []struct {
		schema string
		fast   bool
	}{
		{`true`, true},
		{`false`, true},
		{`{}`, true},
		{personSchema, true},
		{`{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:x", "title": "t", "type": "object"}`, true},
		{`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer", "exclusiveMinimum": 0}`, true},
		{`{"$schema": "http://json-schema.org/draft-06/schema#", "items": {"type": "string"}}`, true},
		{`{"$schema": "https://json-schema.org/draft/2019-09/schema", "items": false}`, true},
		{`{"type": ["string", "null"], "enum": ["a", null, 1, {"x": 1}], "const": "a"}`, true},
		{`{"additionalProperties": {"type": "integer", "maximum": 9}, "minProperties": 2, "maxProperties": 3}`, true},
		{`{"uniqueItems": false, "minItems": 1, "maxItems": 2, "description": "d", "default": 1, "examples": [1],
			"$comment": "c", "deprecated": true, "readOnly": false, "writeOnly": false}`, true},

		{`{"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"}`, false},
		{`{"$schema": "https://json-schema.org/schema", "type": "integer"}`, false},
		{`{"properties": {"a": {"$id": "urn:a"}}}`, false},
		{`{"properties": {"a": {"$schema": "http://json-schema.org/draft-07/schema#"}}}`, false},
		{`{"$defs": {"a": {}}, "$ref": "#/$defs/a"}`, false},
		{`{"type": "string", "format": "email"}`, false},
		{`{"type": "string", "pattern": "^a"}`, false},
		{`{"properties": {"a": {"anyOf": [{"type": "string"}]}}}`, false},
		{`{"items": [{"type": "string"}]}`, false},
		{`{"prefixItems": [{"type": "string"}]}`, false},
		{`{"uniqueItems": true}`, false},
		{`{"minimum": 0.5}`, false},
		{`{"maximum": 1e3}`, false},
		{`{"maximum": 1.0}`, false},
		{`{"minLength": 2.0}`, false},
		{`{"minimum": 99999999999999999999}`, false},
		{`{"minProperties": 33}`, false},
		{`{"patternProperties": {"^a": true}}`, false},
		{`{"x-custom": 1}`, false},
	} {
		if got := mustFast(t, tc.schema) != nil; got != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.schema, got, tc.fast)
		}
	}
}

type fastCase struct {
	payload string
	fast    bool // the fast path vouches for it (the library must accept it)
}

var fastCases = []struct {
	schema string
	cases  []fastCase
}{
	{personSchema, []fastCase{
		{personDoc, true},
		{" \n\t" + personDoc + "\r\n ", true},
		{`{"name": "A", "age": 0}`, true},
		{`{"name": "A", "age": 0, "other": [1, {"x": null}]}`, true},
		{`{"name": "A", "age": 0, "email": null, "tags": []}`, true},
		{`{"name": "Ünïcode ✓", "age": 1}`, true},
		{`{"name": "", "age": 0}`, false},                     // minLength
		{`{"name": "A"}`, false},                              // required
		{`{"age": 3}`, false},                                 // required
		{`{"name": "A", "age": -1}`, false},                   // minimum
		{`{"name": "A", "age": 1.5}`, false},                  // type
		{`{"name": "A", "age": 1.0}`, false},                  // an integer to the library: it decides
		{`{"name": "A", "age": 1e2}`, false},                  // likewise
		{`{"name": "A", "age": 99999999999999999999}`, false}, // beyond int64: the library decides
		{`{"name": "A", "age": "1"}`, false},
		{`{"name": "A", "age": 1, "tags": [1]}`, false},
		{`{"name": "A", "age": 1, "email": 3}`, false},
		{`{"name": "\u0041", "age": 1}`, false}, // escapes where the length matters
		{`{"n\u0061me": "A", "age": 1}`, false}, // an escaped key
		{`{"name": "A", "age": 1}x`, false},
		{`{"name": "A", "age": 1} {}`, false},
		{`{"name": "A", "age": 1,}`, false},
		{`{"name": "A", "age": 01}`, false},
		{`{"name": "A", "age": -}`, false},
		{`{"name": "A" "age": 1}`, false},
		{`{"name": "A", "age": 1`, false},
		{`{"name": "A\x01", "age": 1}`, false},
		{"{\"name\": \"A\", \"age\": 1, \"tags\": [\"\xff\"]}", true}, // invalid UTF-8: U+FFFD to encoding/json
		{"{\"name\": \"\xff\", \"age\": 1}", false},                   // invalid UTF-8 where the length matters
		{`{"name": "A", "age": 1, "name": ""}`, false},                // the last value counts
		{`{"name": "", "age": 1, "name": "A"}`, false},                // every occurrence is checked
		{``, false},
		{`null`, false},
		{`[]`, false},
	}},
	{`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer", "exclusiveMinimum": -5, "exclusiveMaximum": 5}`, []fastCase{
		{`-4`, true}, {`4`, true}, {`-0`, true}, {`0`, true},
		{`5`, false}, {`-5`, false}, {`0.5`, false}, {`-`, false}, {`1.`, false}, {`1e`, false}, {`.5`, false}, {`+1`, false},
	}},
	{`{"type": "number", "minimum": -9223372036854775808, "maximum": 9223372036854775807}`, []fastCase{
		{`-9223372036854775808`, true}, {`9223372036854775807`, true},
		{`9223372036854775808`, false}, {`-9223372036854775809`, false}, {`1.5`, false},
	}},
	{`{"type": "number"}`, []fastCase{
		{`1.5`, true}, {`-0.0e+10`, true}, {`1E-3`, true}, {`123456789012345678901234567890`, true},
		{`1.e3`, false}, {`00`, false}, {`"1"`, false}, {`NaN`, false},
	}},
	{`{"enum": ["a", "é", 3, true, null, [1], 2.5], "const": "a"}`, []fastCase{
		{`"a"`, true},
		{`"é"`, false}, {`3`, false}, {`true`, false}, {`null`, false}, {`[1]`, false}, {`"\u0061"`, false},
	}},
	{`{"enum": ["é", 3, true, null, 2.5, -7]}`, []fastCase{
		{`"é"`, true}, {`3`, true}, {`true`, true}, {`null`, true}, {`-7`, true},
		{`false`, false}, {`2.5`, false}, {`3.0`, false}, {`"e"`, false}, {`{}`, false}, {`[]`, false}, {`nul`, false},
	}},
	{`{"type": ["array", "boolean"], "items": {"type": "string", "maxLength": 2}, "minItems": 1, "maxItems": 3}`, []fastCase{
		{`["ab"]`, true}, {`[ "", "é✓" , "x" ]`, true}, {`true`, true}, {`false`, true},
		{`[]`, false}, {`["a", "b", "c", "d"]`, false}, {`["abc"]`, false}, {`["é✓!"]`, false}, {`[1]`, false},
		{`["a",]`, false}, {`["a" "b"]`, false}, {`[`, false}, {`null`, false}, {`tru`, false}, {`truex`, false},
	}},
	{`{"properties": {"a": false, "b": true}, "additionalProperties": {"type": "string"}, "required": ["c"], "maxProperties": 2}`, []fastCase{
		{`{"c": "x"}`, true}, {`{"b": 1, "c": "x"}`, true}, {`[1]`, true}, {`"s"`, true},
		{`{}`, false}, {`{"a": 1, "c": "x"}`, false}, {`{"c": 1}`, false}, {`{"d": "y", "c": "x", "b": 1}`, false},
		{`{"c": "x", "c": "x", "c": "x"}`, false}, // three occurrences, one key: left to the library
	}},
	{`{"additionalProperties": false, "properties": {"a": {}}, "minProperties": 2}`, []fastCase{
		{`{}`, false}, {`{"a": 1}`, false}, {`{"a": 1, "a": 2}`, false}, {`{"a": 1, "b": 2}`, false},
	}},
	{`{"minProperties": 2}`, []fastCase{
		{`{"a": 1, "b": {"c": [1, 2]}}`, true}, {`{"é": 1, "e": 1}`, true},
		{`{"a": 1, "a": 2}`, false}, {`{"a": 1}`, false}, {`{"\u0061": 1, "a": 2}`, false},
	}},
	{`{"required": ["a", "b"]}`, []fastCase{
		{`{"a": 1, "b": 2}`, true}, {`{"b": 1, "x": 0, "a": 2}`, true}, {`3`, true},
		{`{"a": 1}`, false}, {`{"a": 1, "a": 2}`, false},
	}},
	{`{"properties": {"p0": {"type": "integer"}, "p1": {}, "p2": {}, "p3": {}, "p4": {}, "p5": {}, "p6": {}, "p7": {}, "p8": {}, "p9": {"type": "string"}}, "required": ["p9", "q"]}`, []fastCase{
		{`{"p9": "s", "q": 1, "p0": 2}`, true},
		{`{"p9": 1, "q": 1}`, false}, {`{"p9": "s"}`, false}, {`{"p9": "s", "q": 1, "p0": "x"}`, false},
	}},
	{`false`, []fastCase{{`1`, false}, {`{}`, false}}},
	{`true`, []fastCase{{`1`, true}, {`{"a": [true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"]}`, true}, {`"\x"`, false}, {`"\u00g0"`, false}, {`[1 2]`, false}}},
}

// TestFastPath: the fast path vouches for exactly the payloads the cases
// expect, and the library accepts all of those.
func TestFastPath(t *testing.T) {
	for _, tc := range fastCases {
		f := mustFast(t, tc.schema)
		if f == nil {
			t.Fatalf("no fast path for %s", tc.schema)
		}
		lib := library(t, tc.schema)
		for _, c := range tc.cases {
			got := f.surelyValid([]byte(c.payload))
			if got != c.fast {
				t.Errorf("%s: %s: fast path %v, want %v", tc.schema, c.payload, got, c.fast)
			}
			if err := lib.Validate([]byte(c.payload)); c.fast && err != nil {
				t.Errorf("%s: %s: the library says %v", tc.schema, c.payload, err)
			}
		}
	}
}

// TestFastAllocs: the fast path allocates nothing.
func TestFastAllocs(t *testing.T) {
	f := mustFast(t, personSchema)
	payload := []byte(personDoc)
	if n := testing.AllocsPerRun(100, func() {
		if !f.surelyValid(payload) {
			t.Fatal("not vouched for")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// TestDeepNesting: nesting beyond the walk's limit goes to the library.
func TestDeepNesting(t *testing.T) {
	f := mustFast(t, `true`)
	deep := bytes.Repeat([]byte("["), maxFastDepth+10)
	deep = append(deep, bytes.Repeat([]byte("]"), maxFastDepth+10)...)
	if f.surelyValid(deep) {
		t.Fatal("vouched for nesting beyond the limit")
	}
	if !f.surelyValid(deep[maxFastDepth-10 : len(deep)-maxFastDepth+10]) {
		t.Fatal("no verdict below the limit")
	}
}

// FuzzFastNeverVouchesForInvalid: whatever the fast path vouches for, the
// library accepts, for schemas and payloads both mutated.
func FuzzFastNeverVouchesForInvalid(f *testing.F) {
	for _, tc := range fastCases {
		for _, c := range tc.cases {
			f.Add(tc.schema, []byte(c.payload))
		}
	}
	type compiled struct {
		fast *fastSchema
		lib  validator.Schema
	}
	var mu sync.Mutex
	cache := map[string]*compiled{}
	f.Fuzz(func(t *testing.T, schema string, payload []byte) {
		mu.Lock()
		c, ok := cache[schema]
		if !ok {
			c = &compiled{}
			if lib, err := compileWith([]byte(schema), false); err == nil {
				doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(schema)))
				c.fast, c.lib = compileFast(doc), lib
			}
			if len(cache) > 1000 {
				clear(cache)
			}
			cache[schema] = c
		}
		mu.Unlock()
		if c.fast == nil || !c.fast.surelyValid(payload) {
			return
		}
		if err := c.lib.Validate(payload); err != nil {
			t.Fatalf("schema %s: the fast path vouches for %q, the library says %v", schema, payload, err)
		}
	})
}

// TestSpecial: special's lowest flagged byte is the first byte a byte loop
// would stop at.
func TestSpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 0x1f, 0x20, '"', '\\', 'a', 0x7f, 0x80, 0xff, '!', '#', '[', ']', 0x5b, 0x5d, 0x21, 0x23}
	for range 200000 {
		var x [8]byte
		for j := range x {
			if r.IntN(2) == 0 {
				x[j] = alphabet[r.IntN(len(alphabet))]
			} else {
				x[j] = byte(r.Uint32())
			}
		}
		want := 8
		for j, c := range x {
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				want = j
				break
			}
		}
		m := special(binary.LittleEndian.Uint64(x[:]))
		got := 8
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("% x: first special byte %d, want %d", x, got, want)
		}
	}
}
