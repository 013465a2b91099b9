package main

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast path: one pass over the payload's bytes along a checker built
// at compile, allocating nothing. It answers only "surely valid": the
// library decodes a payload into maps and interfaces and walks the schema
// over them, which in a wasm instance costs several times the native
// figure, so the valid payloads, most of them, skip it. Whatever the walk
// doubts (a failed check, a number that is not a plain int64 literal, a
// string with escapes where its length or value matters, an escaped key)
// goes to the library, which decides and says why.
//
// A checker is built only when every keyword of the schema, at every
// depth, is in a small subset whose semantics the walk repeats exactly:
// type, properties, required, additionalProperties, items (one schema),
// min/maxItems, min/maxProperties, min/maxLength, integer bounds, enum and
// const (scalars are compared; anything else never matches) and pure
// annotations, in drafts 6 to 2020-12. $ref, combinators, format, pattern
// and the rest leave the library alone.

// Instance kinds, as bits of a node's type mask.
const (
	kNull uint8 = 1 << iota
	kBoolean
	kInteger // a number literal without fraction or exponent
	kNumber  // any other number literal
	kString
	kArray
	kObject
)

// Which numeric bounds a node has.
const (
	bMin uint8 = 1 << iota
	bMax
	bExMin
	bExMax
)

// fnode checks one value; nil checks only the syntax (the true schema).
type fnode struct {
	never bool  // the false schema: the library decides
	types uint8 // kinds allowed; 0: any

	minLen, maxLen     int64 // code points; -1: none
	minItems, maxItems int64 // -1: none
	minProps, maxProps int64 // -1: none

	bounds                     uint8
	minimum, maximum           int64
	exclusiveMin, exclusiveMax int64

	// const and enum: the value must equal one scalar of every list.
	enums [][]scalar

	items *fnode

	objChecks  bool           // any of the object keywords below
	props      []fprop        // properties and required names
	index      map[string]int // props by name, when there are many
	required   uint64         // bits of props that must be present
	additional *fnode         // for names not in properties; nil: anything
}

// fprop is a name of properties or required.
type fprop struct {
	name     string
	sch      *fnode // nil: anything
	inProps  bool   // named by properties (else additionalProperties applies)
	required uint64 // its bit, if required
}

// scalar is an enum or const value the walk can compare with the raw
// bytes of an instance.
type scalar struct {
	kind uint8 // kNull, kBoolean, kInteger or kString
	b    bool
	i    int64
	s    string
}

// fastSchema is a compiled fast path; nil when the schema has none.
type fastSchema struct {
	root *fnode
}

var never = &fnode{never: true}

// Limits beyond which the walk leaves the payload to the library.
const (
	maxFastDepth    = 1000 // nesting of the payload
	maxFastRequired = 64   // required names of one schema (bits of a uint64)
	maxDistinctKeys = 32   // keys compared to count distinct ones for minProperties
	indexFrom       = 9    // properties from which a map finds a name
)

// compileFast builds the fast path of doc (the schema as the library's
// UnmarshalJSON decoded it), or returns nil when the schema uses anything
// outside the subset.
func compileFast(doc any) *fastSchema {
	if obj, ok := doc.(map[string]any); ok {
		if v, ok := obj["$schema"]; ok {
			s, ok := v.(string)
			if !ok || !knownDraft(s) {
				return nil
			}
		}
		if v, ok := obj["$id"]; ok {
			if _, ok := v.(string); !ok {
				return nil
			}
		}
	}
	n, ok := buildFast(doc, true)
	if !ok {
		return nil
	}
	return &fastSchema{root: n}
}

// knownDraft: drafts 6, 7, 2019-09 and 2020-12, spelled as the library
// recognises them. Draft 4 (boolean exclusive bounds, no boolean schemas)
// and custom meta-schemas are left to the library.
func knownDraft(s string) bool {
	s = strings.TrimSuffix(s, "#")
	if t, ok := strings.CutPrefix(s, "http://"); ok {
		s = t
	} else {
		s = strings.TrimPrefix(s, "https://")
	}
	switch s {
	case "json-schema.org/draft/2020-12/schema", "json-schema.org/draft/2019-09/schema",
		"json-schema.org/draft-07/schema", "json-schema.org/draft-06/schema":
		return true
	}
	return false
}

// annotations are keywords that never fail a validation.
var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true,
	"$comment": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

func buildFast(v any, root bool) (*fnode, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return nil, true
		}
		return never, true
	case map[string]any:
		n := &fnode{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1, minProps: -1, maxProps: -1}
		var required []string
		var properties map[string]any
		for k, kv := range v {
			var ok bool
			switch {
			case annotations[k]:
				ok = true
			case k == "$schema" || k == "$id":
				ok = root // checked by compileFast
			case k == "type":
				n.types, ok = typeMask(kv)
			case k == "properties":
				properties, ok = kv.(map[string]any)
				n.objChecks = true
			case k == "required":
				required, ok = stringList(kv)
				n.objChecks = true
			case k == "additionalProperties":
				n.additional, ok = buildFast(kv, false)
				n.objChecks = true
			case k == "items":
				switch kv.(type) {
				case bool, map[string]any:
					n.items, ok = buildFast(kv, false)
				}
			case k == "uniqueItems":
				ok = kv == false
			case k == "minLength":
				n.minLen, ok = count(kv)
			case k == "maxLength":
				n.maxLen, ok = count(kv)
			case k == "minItems":
				n.minItems, ok = count(kv)
			case k == "maxItems":
				n.maxItems, ok = count(kv)
			case k == "minProperties":
				n.minProps, ok = count(kv)
				ok = ok && n.minProps <= maxDistinctKeys
			case k == "maxProperties":
				n.maxProps, ok = count(kv)
			case k == "minimum":
				n.minimum, ok = integer(kv)
				n.bounds |= bMin
			case k == "maximum":
				n.maximum, ok = integer(kv)
				n.bounds |= bMax
			case k == "exclusiveMinimum":
				n.exclusiveMin, ok = integer(kv)
				n.bounds |= bExMin
			case k == "exclusiveMaximum":
				n.exclusiveMax, ok = integer(kv)
				n.bounds |= bExMax
			case k == "enum":
				var list []any
				if list, ok = kv.([]any); ok {
					n.enums = append(n.enums, scalars(list))
				}
			case k == "const":
				n.enums, ok = append(n.enums, scalars([]any{kv})), true
			}
			if !ok {
				return nil, false
			}
		}
		for name, ps := range properties {
			sch, ok := buildFast(ps, false)
			if !ok {
				return nil, false
			}
			n.props = append(n.props, fprop{name: name, sch: sch, inProps: true})
		}
		// Each required name gets a bit; names not in properties are
		// listed too, so that their presence is seen.
		bit := 0
	required:
		for _, name := range required {
			for i := range n.props {
				if n.props[i].name == name {
					if n.props[i].required == 0 {
						if bit == maxFastRequired {
							return nil, false
						}
						n.props[i].required = 1 << bit
						bit++
					}
					continue required
				}
			}
			if bit == maxFastRequired {
				return nil, false
			}
			n.props = append(n.props, fprop{name: name, required: 1 << bit})
			bit++
		}
		for _, p := range n.props {
			n.required |= p.required
		}
		if len(n.props) >= indexFrom {
			n.index = make(map[string]int, len(n.props))
			for i, p := range n.props {
				n.index[p.name] = i
			}
		}
		return n, true
	}
	return nil, false
}

func typeMask(v any) (uint8, bool) {
	one := func(s string) uint8 {
		switch s {
		case "null":
			return kNull
		case "boolean":
			return kBoolean
		case "integer":
			return kInteger
		case "number":
			return kInteger | kNumber
		case "string":
			return kString
		case "array":
			return kArray
		case "object":
			return kObject
		}
		return 0
	}
	switch v := v.(type) {
	case string:
		m := one(v)
		return m, m != 0
	case []any:
		var m uint8
		for _, t := range v {
			s, ok := t.(string)
			if !ok || one(s) == 0 {
				return 0, false
			}
			m |= one(s)
		}
		// An empty list: the library checks no type.
		return m, true
	}
	return 0, false
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		s, ok := s.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// integer is a plain integer literal (no fraction or exponent) of int64.
func integer(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(num), ".eE") {
		return 0, false
	}
	i, err := strconv.ParseInt(string(num), 10, 64)
	return i, err == nil
}

func count(v any) (int64, bool) {
	i, ok := integer(v)
	return i, ok && i >= 0
}

// scalars keeps the values of an enum the walk can compare: null,
// booleans, int64 literals and strings. The others never match, which
// sends a payload to the library.
func scalars(list []any) []scalar {
	out := []scalar{}
	for _, v := range list {
		switch v := v.(type) {
		case nil:
			out = append(out, scalar{kind: kNull})
		case bool:
			out = append(out, scalar{kind: kBoolean, b: v})
		case string:
			out = append(out, scalar{kind: kString, s: v})
		case json.Number:
			if i, ok := integer(v); ok {
				out = append(out, scalar{kind: kInteger, i: i})
			}
		}
	}
	return out
}

// surelyValid reports that payload is exactly one JSON value, with only
// whitespace around it, that the schema accepts.
func (f *fastSchema) surelyValid(payload []byte) bool {
	if f == nil {
		return false
	}
	i := skipSpace(payload, 0)
	i, ok := walkValue(f.root, payload, i, 0)
	return ok && skipSpace(payload, i) == len(payload)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// walkValue checks the value at b[i:] against n and returns where it ends.
func walkValue(n *fnode, b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxFastDepth || (n != nil && n.never) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '{':
		return walkObject(n, b, i+1, depth+1)
	case c == '[':
		return walkArray(n, b, i+1, depth+1)
	case c == '"':
		end, plain, ascii, ok := walkString(b, i+1)
		if !ok {
			return 0, false
		}
		if n == nil {
			return end, true
		}
		if n.types != 0 && n.types&kString == 0 {
			return 0, false
		}
		if n.minLen >= 0 || n.maxLen >= 0 || n.enums != nil {
			if !plain {
				return 0, false
			}
			s := b[i+1 : end-1]
			if n.minLen >= 0 || n.maxLen >= 0 {
				l := int64(len(s))
				if !ascii {
					l = int64(utf8.RuneCount(s))
				}
				if (n.minLen >= 0 && l < n.minLen) || (n.maxLen >= 0 && l > n.maxLen) {
					return 0, false
				}
			}
			for _, list := range n.enums {
				if !matchString(list, s) {
					return 0, false
				}
			}
		}
		return end, true
	case c == 't' || c == 'f' || c == 'n':
		var word string
		var k uint8 = kBoolean
		switch c {
		case 't':
			word = "true"
		case 'f':
			word = "false"
		default:
			word, k = "null", kNull
		}
		end := i + len(word)
		if end > len(b) || string(b[i:end]) != word {
			return 0, false
		}
		if n == nil {
			return end, true
		}
		if n.types != 0 && n.types&k == 0 {
			return 0, false
		}
		for _, list := range n.enums {
			if !matchLiteral(list, k, c == 't') {
				return 0, false
			}
		}
		return end, true
	case c == '-' || (c >= '0' && c <= '9'):
		return walkNumber(n, b, i)
	}
	return 0, false
}

// walkString scans the string whose opening quote is at b[i-1]: it returns
// the index after the closing quote, whether the decoded string is the
// raw bytes (no escapes, valid UTF-8) and whether they are ASCII.
func walkString(b []byte, i int) (end int, plain, ascii, ok bool) {
	start := i
	plain, ascii = true, true
	for i < len(b) {
		// Eight bytes at a time up to the first that is not plain ASCII:
		// in wasm each iteration of a byte loop is dear.
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := special(x); m == 0 {
				i += 8
				continue
			} else {
				i += bits.TrailingZeros64(m) >> 3
			}
		}
		c := b[i]
		switch {
		case c == '"':
			if !ascii && plain {
				plain = utf8.Valid(b[start:i])
			}
			return i + 1, plain, ascii, true
		case c < 0x20:
			return 0, false, false, false
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return 0, false, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, false, false
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return 0, false, false, false
					}
				}
				i += 6
			default:
				return 0, false, false, false
			}
			continue
		case c >= 0x80:
			ascii = false
		}
		i++
	}
	return 0, false, false, false
}

// special has the high bit set in the bytes of x (little-endian) that are
// a quote, a backslash, a control character or not ASCII. Only the lowest
// one is sure (borrows make false positives above a true one), which is
// the one walkString wants.
func special(x uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((x-ones*0x20) & ^x | x | (q-ones)&^q | (bs-ones)&^bs) & high
}

func matchString(list []scalar, s []byte) bool {
	for _, v := range list {
		if v.kind == kString && v.s == string(s) {
			return true
		}
	}
	return false
}

func matchLiteral(list []scalar, k uint8, b bool) bool {
	for _, v := range list {
		if v.kind == k && (k == kNull || v.b == b) {
			return true
		}
	}
	return false
}

// walkNumber checks a number literal against JSON's grammar and n.
func walkNumber(n *fnode, b []byte, i int) (int, bool) {
	neg := b[i] == '-'
	if neg {
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, false
	}
	var mag uint64
	fits := true
	if b[i] == '0' {
		i++
	} else {
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			d := uint64(b[i] - '0')
			if mag > (1<<63-d)/10 {
				fits = false
			} else {
				mag = mag*10 + d
			}
		}
	}
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		j := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == j {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == j {
			return 0, false
		}
	}
	if n == nil {
		return i, true
	}
	k := kInteger
	if !isInt {
		// 1.0 is an integer to the library in drafts 6 on; the walk does
		// not say so.
		k = kNumber
	}
	if n.types != 0 && n.types&k == 0 {
		return 0, false
	}
	if n.bounds == 0 && n.enums == nil {
		return i, true
	}
	if !isInt || !fits || (!neg && mag == 1<<63) {
		return 0, false
	}
	v := int64(mag)
	if neg {
		v = -v // -(1<<63) wraps to itself, which is right
	}
	if (n.bounds&bMin != 0 && v < n.minimum) || (n.bounds&bMax != 0 && v > n.maximum) ||
		(n.bounds&bExMin != 0 && v <= n.exclusiveMin) || (n.bounds&bExMax != 0 && v >= n.exclusiveMax) {
		return 0, false
	}
	for _, list := range n.enums {
		found := false
		for _, s := range list {
			if s.kind == kInteger && s.i == v {
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return i, true
}

// walkArray walks the items after the '[' at b[i-1].
func walkArray(n *fnode, b []byte, i, depth int) (int, bool) {
	var items *fnode
	if n != nil {
		if (n.types != 0 && n.types&kArray == 0) || n.enums != nil {
			return 0, false
		}
		items = n.items
	}
	var count int64
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			var ok bool
			if i, ok = walkValue(items, b, i, depth); !ok {
				return 0, false
			}
			count++
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipSpace(b, i+1)
		}
	}
	if n != nil && ((n.minItems >= 0 && count < n.minItems) || (n.maxItems >= 0 && count > n.maxItems)) {
		return 0, false
	}
	return i, true
}

// walkObject walks the members after the '{' at b[i-1]. A key given twice
// is checked each time (the library keeps the last value); maxProperties
// counts every occurrence and minProperties distinct keys, so duplicates
// only ever send a payload to the library.
func walkObject(n *fnode, b []byte, i, depth int) (int, bool) {
	checks := n != nil && n.objChecks
	if n != nil && ((n.types != 0 && n.types&kObject == 0) || n.enums != nil) {
		return 0, false
	}
	var seen uint64
	var count int64
	open := i
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			ks := i + 1
			end, plain, _, ok := walkString(b, ks)
			if !ok {
				return 0, false
			}
			key := b[ks : end-1]
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, false
			}
			i = skipSpace(b, i+1)
			var sub *fnode
			if checks || (n != nil && n.minProps > 0) {
				if !plain {
					return 0, false // the decoded name is not the raw bytes
				}
			}
			if checks {
				p := -1
				if n.index != nil {
					if j, ok := n.index[string(key)]; ok {
						p = j
					}
				} else {
					for j := range n.props {
						if n.props[j].name == string(key) {
							p = j
							break
						}
					}
				}
				if p >= 0 {
					seen |= n.props[p].required
				}
				if p >= 0 && n.props[p].inProps {
					sub = n.props[p].sch
				} else {
					sub = n.additional
				}
			}
			if i, ok = walkValue(sub, b, i, depth); !ok {
				return 0, false
			}
			count++
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipSpace(b, i+1)
		}
	}
	if n != nil {
		if seen != n.required || (n.maxProps >= 0 && count > n.maxProps) ||
			(n.minProps > 0 && (count < n.minProps || !distinctKeys(b, open, int(n.minProps)))) {
			return 0, false
		}
	}
	return i, true
}

// distinctKeys reports that the object whose members start at b[i:],
// already walked, has at least want distinct keys (want <=
// maxDistinctKeys; its keys are plain).
func distinctKeys(b []byte, i, want int) bool {
	var keys [maxDistinctKeys][]byte
	n := 0
	i = skipSpace(b, i)
	for n < want && b[i] == '"' {
		end, _, _, _ := walkString(b, i+1)
		key := b[i+1 : end-1]
		dup := false
		for _, k := range keys[:n] {
			if string(k) == string(key) {
				dup = true
				break
			}
		}
		if !dup {
			keys[n] = key
			n++
		}
		i = skipSpace(b, end)
		i, _ = walkValue(nil, b, skipSpace(b, i+1), 0) // past the ':'
		i = skipSpace(b, i)
		if b[i] == '}' {
			break
		}
		i = skipSpace(b, i+1) // past the ','
	}
	return n >= want
}
