package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// The fast path: a walk over the binary encoding along a tree built at
// compile, allocating nothing. It answers only "surely valid": it is at
// least as strict as goavro's NativeFromBinary (Validate's slow path), so
// a payload it accepts is valid, and anything it doubts goes to goavro,
// which decides and says why. goavro decodes into maps and interfaces,
// about a dozen allocations for a small record; in a wasm instance that is
// ~12x the native cost, so most payloads, the valid ones, skip it.
//
// The tree is built from goavro's Parsing Canonical Form of the schema,
// so names resolve the way goavro resolved them. The one logical type
// whose decoding can fail on well-formed data, validated-string (a
// goavro extension matching a pattern), turns the fast path off. Besides
// the encoding, goavro refuses a map with a duplicate key: the walk
// checks maps of up to 32 entries and leaves larger ones to goavro.

type kind uint8

const (
	kNull kind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kFixed
	kArray
	kMap
	kUnion
)

type node struct {
	kind     kind
	fields   []*node // record
	size     int64   // enum: number of symbols; fixed: bytes
	items    *node   // array items, map values
	branches []*node // union
}

var primitives = map[string]kind{
	"null": kNull, "boolean": kBoolean, "int": kInt, "long": kLong,
	"float": kFloat, "double": kDouble, "bytes": kBytes, "string": kString,
}

// buildTree makes the walk's tree, or returns why there is none.
func buildTree(canonical, original string) (*node, error) {
	if strings.Contains(original, "validated-string") {
		return nil, errors.New("validated-string logical type")
	}
	var v any
	if err := json.Unmarshal([]byte(canonical), &v); err != nil {
		return nil, err
	}
	return build(v, "", map[string]*node{})
}

// build makes the node of v; ns is the enclosing namespace. goavro's
// canonical form qualifies definitions but leaves some references
// relative ("Node" in a record list.Node), so a name resolves as goavro
// resolves it: as written, then in the enclosing namespace.
func build(v any, ns string, named map[string]*node) (*node, error) {
	switch v := v.(type) {
	case string:
		if k, ok := primitives[v]; ok {
			return &node{kind: k}, nil
		}
		if n, ok := named[v]; ok {
			return n, nil
		}
		if n, ok := named[ns+"."+v]; ok && ns != "" {
			return n, nil
		}
		return nil, fmt.Errorf("unknown name %q", v)
	case []any:
		n := &node{kind: kUnion}
		for _, b := range v {
			bn, err := build(b, ns, named)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, bn)
		}
		return n, nil
	case map[string]any:
		t, _ := v["type"].(string)
		name, _ := v["name"].(string)
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			ns = name[:i]
		} else if name != "" && v["namespace"] == nil {
			// An unqualified definition keeps the enclosing namespace.
			name = qualify(ns, name)
		}
		switch t {
		case "record":
			n := &node{kind: kRecord}
			named[name] = n // before the fields: records can be recursive
			fields, _ := v["fields"].([]any)
			for _, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					return nil, errors.New("field is not an object")
				}
				fn, err := build(fm["type"], ns, named)
				if err != nil {
					return nil, err
				}
				n.fields = append(n.fields, fn)
			}
			return n, nil
		case "enum":
			symbols, _ := v["symbols"].([]any)
			n := &node{kind: kEnum, size: int64(len(symbols))}
			named[name] = n
			return n, nil
		case "fixed":
			size, ok := v["size"].(float64)
			if !ok || size < 0 || size != math.Trunc(size) {
				return nil, errors.New("fixed without a size")
			}
			n := &node{kind: kFixed, size: int64(size)}
			named[name] = n
			return n, nil
		case "array", "map":
			key := "items"
			k := kArray
			if t == "map" {
				key, k = "values", kMap
			}
			items, err := build(v[key], ns, named)
			if err != nil {
				return nil, err
			}
			return &node{kind: k, items: items}, nil
		}
		if k, ok := primitives[t]; ok {
			return &node{kind: k}, nil
		}
		return nil, fmt.Errorf("unknown type %q", t)
	}
	return nil, fmt.Errorf("unexpected %T in the schema", v)
}

func qualify(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "." + name
}

// maxMapKeys is the most entries of a map the walk checks for duplicate
// keys itself.
const maxMapKeys = 32

// maxDepth bounds the walk's recursion (a recursive record).
const maxDepth = 10000

// walker walks one payload.
type walker struct {
	maxBlock int64 // the most items a block may declare (goavro.MaxBlockCount)
}

// surelyValid reports that b is exactly one datum of n.
func (w walker) surelyValid(n *node, b []byte) bool {
	rest, ok := w.walk(n, b, 0)
	return ok && len(rest) == 0
}

// varint reads a zig-zag varint of at most 10 bytes.
func varint(b []byte) (int64, []byte, bool) {
	var u uint64
	for i := 0; i < len(b) && i < 10; i++ {
		u |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return int64(u>>1) ^ -int64(u&1), b[i+1:], true
		}
	}
	return 0, nil, false
}

func (w walker) walk(n *node, b []byte, depth int) ([]byte, bool) {
	if depth > maxDepth {
		return nil, false
	}
	switch n.kind {
	case kNull:
		return b, true
	case kBoolean:
		if len(b) < 1 || b[0] > 1 {
			return nil, false
		}
		return b[1:], true
	case kInt, kLong:
		_, rest, ok := varint(b)
		return rest, ok
	case kFloat:
		if len(b) < 4 {
			return nil, false
		}
		return b[4:], true
	case kDouble:
		if len(b) < 8 {
			return nil, false
		}
		return b[8:], true
	case kBytes, kString:
		size, rest, ok := varint(b)
		if !ok || size < 0 || size > int64(len(rest)) {
			return nil, false
		}
		return rest[size:], true
	case kFixed:
		if int64(len(b)) < n.size {
			return nil, false
		}
		return b[n.size:], true
	case kEnum:
		i, rest, ok := varint(b)
		return rest, ok && i >= 0 && i < n.size
	case kUnion:
		i, rest, ok := varint(b)
		if !ok || i < 0 || i >= int64(len(n.branches)) {
			return nil, false
		}
		return w.walk(n.branches[i], rest, depth+1)
	case kRecord:
		var ok bool
		for _, f := range n.fields {
			if b, ok = w.walk(f, b, depth+1); !ok {
				return nil, false
			}
		}
		return b, true
	case kArray, kMap:
		return w.blocks(n, b, depth)
	}
	return nil, false
}

// blocks walks an array's or a map's blocks.
func (w walker) blocks(n *node, b []byte, depth int) ([]byte, bool) {
	// goavro refuses a map with a key twice; the walk compares the keys of
	// small maps and leaves larger ones to goavro.
	var keys *[maxMapKeys][]byte
	if n.kind == kMap {
		keys = new([maxMapKeys][]byte) // on the stack: it does not escape
	}
	nkeys := 0
	for {
		count, rest, ok := varint(b)
		if !ok || count == math.MinInt64 {
			return nil, false
		}
		b = rest
		if count == 0 {
			return b, true
		}
		if count < 0 {
			count = -count
			if _, b, ok = varint(b); !ok { // the block's size in bytes
				return nil, false
			}
		}
		if count > w.maxBlock {
			return nil, false
		}
		for range count {
			if keys != nil {
				size, rest, ok := varint(b)
				if !ok || size < 0 || size > int64(len(rest)) || nkeys == maxMapKeys {
					return nil, false
				}
				key := rest[:size]
				for _, k := range keys[:nkeys] {
					if string(k) == string(key) {
						return nil, false
					}
				}
				keys[nkeys] = key
				nkeys++
				b = rest[size:]
			}
			if b, ok = w.walk(n.items, b, depth+1); !ok {
				return nil, false
			}
		}
	}
}
