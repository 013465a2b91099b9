package main

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The fast path: a walk over the wire format along tables built at
// compile, allocating nothing. It answers only "surely valid": it is at
// least as strict as parsing with dynamicpb and walking the result
// (Validate's slow path), so a payload it accepts is valid, and anything
// it doubts (an invalid payload, and also a few valid ones: extensions,
// proto2 strings that are not UTF-8, a required field set in only one of
// two merged occurrences, unknown fields in a map entry) goes to the slow
// path, which decides and says why. Parsing a message with dynamicpb costs
// about a dozen allocations; in a wasm instance that is ~15x the native
// cost, so most payloads, the valid ones, skip it.

// walker is a message type's table.
type walker struct {
	dense  []*fieldInfo // by field number, for numbers below len(dense)
	sparse map[protowire.Number]*fieldInfo
	// required has a bit per required field; doubt marks types the walk
	// cannot vouch for (over 64 required fields, message-set encoding).
	required uint64
	doubt    bool
}

type fieldInfo struct {
	wire     protowire.Type // the declared encoding
	packable bool           // a repeated scalar: also accepted packed (bytes)
	msg      *walker        // message, group or map entry
	closed   map[protoreflect.EnumNumber]bool
	utf8     bool   // a string: checked even where protobuf-go would not (proto2), see above
	reqBit   uint64 // the field's bit in walker.required, or 0
}

// maxDense bounds the by-number slice of a message type.
const maxDense = 256

func (w *walker) field(num protowire.Number) *fieldInfo {
	if int(num) < len(w.dense) {
		return w.dense[num]
	}
	return w.sparse[num]
}

// buildWalker makes the tables of md and of every type reachable from it.
func buildWalker(md protoreflect.MessageDescriptor, done map[protoreflect.MessageDescriptor]*walker) *walker {
	if w, ok := done[md]; ok {
		return w
	}
	w := &walker{}
	done[md] = w // before descending: message types can be recursive
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		w.doubt = true
	}
	fs := md.Fields()
	nreq := 0
	for i := range fs.Len() {
		fd := fs.Get(i)
		f := &fieldInfo{wire: wireType(fd)}
		f.packable = fd.IsList() && isPackable(fd)
		if sub := fd.Message(); sub != nil {
			f.msg = buildWalker(sub, done)
		}
		if ed := fd.Enum(); ed != nil && ed.IsClosed() {
			f.closed = map[protoreflect.EnumNumber]bool{}
			for j := range ed.Values().Len() {
				f.closed[ed.Values().Get(j).Number()] = true
			}
		}
		f.utf8 = fd.Kind() == protoreflect.StringKind
		if fd.Cardinality() == protoreflect.Required {
			if nreq == 64 {
				w.doubt = true
			} else {
				f.reqBit = 1 << nreq
				w.required |= f.reqBit
				nreq++
			}
		}
		num := fd.Number()
		if num < maxDense {
			for len(w.dense) <= int(num) {
				w.dense = append(w.dense, nil)
			}
			w.dense[num] = f
		} else {
			if w.sparse == nil {
				w.sparse = map[protowire.Number]*fieldInfo{}
			}
			w.sparse[num] = f
		}
	}
	return w
}

// isPackable reports a scalar kind that a repeated field may pack.
func isPackable(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind && fd.Message() == nil
}

func wireType(fd protoreflect.FieldDescriptor) protowire.Type {
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType // string, bytes, message (and map entries)
}

// surelyValid reports that b is a valid encoding of w's message type.
func (w *walker) surelyValid(b []byte, depth int) bool {
	if w.doubt || depth > maxDepth {
		return false
	}
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		f := w.field(num)
		if f == nil {
			return false // unknown, or an extension
		}
		if typ != f.wire {
			if !f.packable || typ != protowire.BytesType {
				return false
			}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !f.packedValid(v) {
				return false
			}
			b = b[n:]
			continue
		}
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 || (f.closed != nil && !f.closed[protoreflect.EnumNumber(int32(v))]) {
				return false
			}
			b = b[n:]
		case protowire.Fixed32Type:
			_, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return false
			}
			b = b[n:]
		case protowire.Fixed64Type:
			_, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return false
			}
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			if f.msg != nil {
				if !f.msg.surelyValid(v, depth+1) {
					return false
				}
			} else if f.utf8 && !utf8.Valid(v) {
				return false
			}
			b = b[n:]
		case protowire.StartGroupType:
			v, n := protowire.ConsumeGroup(num, b)
			if n < 0 || f.msg == nil || !f.msg.surelyValid(v, depth+1) {
				return false
			}
			b = b[n:]
		default:
			return false
		}
		seen |= f.reqBit
	}
	return seen == w.required
}

// packedValid checks a packed repeated scalar's contents.
func (f *fieldInfo) packedValid(v []byte) bool {
	switch f.wire {
	case protowire.VarintType:
		for len(v) > 0 {
			x, n := protowire.ConsumeVarint(v)
			if n < 0 || (f.closed != nil && !f.closed[protoreflect.EnumNumber(int32(x))]) {
				return false
			}
			v = v[n:]
		}
		return true
	case protowire.Fixed32Type:
		return len(v)%4 == 0
	case protowire.Fixed64Type:
		return len(v)%8 == 0
	}
	return false
}
