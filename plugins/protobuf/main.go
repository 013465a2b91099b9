// Command protobuf is the Protocol Buffers validator plugin Trellis ships.
// The schema is .proto source (proto2, proto3 or editions) and a payload is
// valid when it is the binary encoding of one message of it:
//
//   - the payload's message is the first message the file declares, or the
//     one the schema names when it is the JSON envelope
//     {"proto": "<.proto source>", "message": "pkg.Name"} (.proto source
//     never starts with "{", so a schema starting with "{" is the envelope);
//   - the payload parses (no truncation, no malformed tags or lengths,
//     valid UTF-8 in proto3 strings);
//   - no unknown fields at any depth: a field the message does not declare,
//     a declared field sent with another wire type (protobuf-go files those
//     as unknown), a value a closed (proto2) enum does not have;
//   - every proto2 required field is set, at every depth.
//
// Messages name the place, e.g. "Order.items[1].price: field 3 has wire
// type bytes, but it is declared double".
//
// Most payloads never reach dynamicpb: a walk over the wire format along
// tables built at compile (fast.go) vouches for the valid ones without
// allocating; the rest are parsed with dynamicpb, which decides and says
// why.
//
// Imports of the well-known google/protobuf/*.proto files resolve; any
// other import is an error: a schema must be self-contained.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o protobuf.wasm .
// (make plugins writes bin/plugins/protobuf.wasm).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/protoutil"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{
		Name:    "protobuf",
		Version: "1.0.0",
		Description: "Validates Protocol Buffers payloads (binary encoding) against .proto source: " +
			"the file's first message, or the one named by the envelope {\"proto\":...,\"message\":...}; " +
			"unknown fields, wrong wire types and missing required fields are invalid; " +
			"only the well-known google/protobuf imports resolve.",
	}, compile)
}

// fileName is the schema's name in compiler messages ("schema.proto:3:5: ...").
const fileName = "schema.proto"

// envelope is the JSON form of a schema that names its message.
type envelope struct {
	Proto   string `json:"proto"`
	Message string `json:"message"`
}

// errImport is the accessor's answer for any file but the schema; the
// standard imports are resolved before it is asked.
var errImport = errors.New("not found: a schema must be self-contained " +
	"(only the well-known google/protobuf/*.proto imports resolve)")

func compile(src []byte) (validator.Schema, error) {
	source, name, err := parseSchema(src)
	if err != nil {
		return nil, err
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if path == fileName {
					return io.NopCloser(strings.NewReader(source)), nil
				}
				return nil, errImport
			},
		}),
		MaxParallelism: 1,
	}
	files, err := c.Compile(context.Background(), fileName)
	if err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	// protocompile's descriptors do not tell protobuf-go everything the
	// file says (an editions string's utf8_validation is not enforced with
	// them): protobuf-go's own descriptors, built from the compiled file,
	// do. protodesc refuses a few files protoc accepts (a proto2 map whose
	// closed enum values do not start at 0): those keep protocompile's.
	var (
		fd       protoreflect.FileDescriptor = files[0]
		find                                 = files.AsResolver().FindDescriptorByName
		resolver interface {
			protoregistry.ExtensionTypeResolver
			protoregistry.MessageTypeResolver
		} = files.AsResolver()
	)
	if conv, err := protodesc.NewFile(protoutil.ProtoFromFileDescriptor(files[0]), protoregistry.GlobalFiles); err == nil {
		local := new(protoregistry.Files)
		if err := local.RegisterFile(conv); err == nil {
			fd, resolver = conv, dynamicpb.NewTypes(local)
			find = func(name protoreflect.FullName) (protoreflect.Descriptor, error) {
				if d, err := local.FindDescriptorByName(name); err == nil {
					return d, nil
				}
				return protoregistry.GlobalFiles.FindDescriptorByName(name)
			}
		}
	}
	md, err := pickMessage(fd, find, name)
	if err != nil {
		return nil, err
	}
	s := &schema{
		md:   md,
		opts: proto.UnmarshalOptions{AllowPartial: true, Resolver: resolver},
		info: map[protoreflect.MessageDescriptor]*msgInfo{},
	}
	s.index(md)
	s.fast = buildWalker(md, map[protoreflect.MessageDescriptor]*walker{})
	return s, nil
}

// parseSchema returns the .proto source and the message name (empty for
// the first message) of a schema.
func parseSchema(src []byte) (source, message string, err error) {
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) == 0 {
		return "", "", errors.New("schema: empty")
	}
	if trimmed[0] != '{' {
		return string(src), "", nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var env envelope
	if err := dec.Decode(&env); err != nil {
		return "", "", fmt.Errorf(`schema: a schema starting with "{" is the envelope {"proto": "...", "message": "pkg.Name"}: %v`, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", "", errors.New("schema: data after the envelope's JSON object")
	}
	if strings.TrimSpace(env.Proto) == "" {
		return "", "", errors.New(`schema: the envelope has no "proto" source`)
	}
	return env.Proto, strings.TrimPrefix(env.Message, "."), nil
}

// pickMessage finds the payloads' message: the named one (in the schema
// or a well-known import), or the file's first.
func pickMessage(fd protoreflect.FileDescriptor, find func(protoreflect.FullName) (protoreflect.Descriptor, error), name string) (protoreflect.MessageDescriptor, error) {
	if name == "" {
		if fd.Messages().Len() == 0 {
			return nil, errors.New("schema: declares no message")
		}
		return fd.Messages().Get(0), nil
	}
	d, err := find(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("schema: message %q is not declared (a name is package-qualified, e.g. %q)",
			name, string(fd.Package().Append("Name")))
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("schema: %q is not a message", name)
	}
	return md, nil
}

// schema is a compiled message type.
type schema struct {
	md   protoreflect.MessageDescriptor
	opts proto.UnmarshalOptions
	// info holds, for every message type reachable from md, what the walk
	// after parsing looks at.
	info map[protoreflect.MessageDescriptor]*msgInfo
	fast *walker
}

type msgInfo struct {
	// nested are the fields that hold messages (singular, repeated or map
	// values), in number order: what the walk descends into.
	nested []protoreflect.FieldDescriptor
	// required are the required fields (proto2, editions' LEGACY_REQUIRED).
	required []protoreflect.FieldDescriptor
	// closed are the fields that hold closed (proto2) enum values:
	// dynamicpb keeps any number, so the walk checks them.
	closed []protoreflect.FieldDescriptor
}

func (s *schema) index(md protoreflect.MessageDescriptor) *msgInfo {
	if in, done := s.info[md]; done {
		return in
	}
	in := &msgInfo{}
	s.info[md] = in // before descending: message types can be recursive
	fs := md.Fields()
	for i := range fs.Len() {
		fd := fs.Get(i)
		vd := fd
		if fd.IsMap() {
			vd = fd.MapValue()
		}
		if sub := vd.Message(); sub != nil {
			in.nested = append(in.nested, fd)
			s.index(sub)
		}
		if ed := vd.Enum(); ed != nil && ed.IsClosed() {
			in.closed = append(in.closed, fd)
		}
		if fd.Cardinality() == protoreflect.Required {
			in.required = append(in.required, fd)
		}
	}
	return in
}

func (s *schema) Validate(payload []byte) error {
	if s.fast.surelyValid(payload, 0) {
		return nil
	}
	return s.slow(payload)
}

// slow parses payload with dynamicpb and walks the message: the verdict
// for whatever the fast path (fast.go) does not vouch for, and the
// message saying why.
func (s *schema) slow(payload []byte) error {
	m := dynamicpb.NewMessage(s.md)
	if err := s.unmarshal(payload, m); err != nil {
		return s.explain(payload, err)
	}
	return s.check(m, string(s.md.Name()))
}

// unmarshal is s.opts.Unmarshal, with a panic an error: protobuf-go
// v1.36.12 panics on a map entry whose key comes first right and then
// with the wrong wire type ("type mismatch: cannot convert nil to map
// key"); explain's walk then finds the field.
func (s *schema) unmarshal(b []byte, m proto.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot parse (protobuf-go: %v)", r)
		}
	}()
	return s.opts.Unmarshal(b, m)
}

// check reports the first unknown field or missing required field in m or
// below it; path names m.
func (s *schema) check(m protoreflect.Message, path string) error {
	md := m.Descriptor()
	if u := m.GetUnknown(); len(u) > 0 {
		return s.unknownError(md, u, path)
	}
	in := s.index(md) // a map lookup: every reachable type is indexed at compile
	for _, fd := range in.required {
		if !m.Has(fd) {
			return fmt.Errorf("%s.%s: required field is missing", path, fd.Name())
		}
	}
	for _, fd := range in.closed {
		if m.Has(fd) {
			if err := closedEnum(fd, m.Get(fd), path+"."+string(fd.Name())); err != nil {
				return err
			}
		}
	}
	for _, fd := range in.nested {
		if !m.Has(fd) {
			continue
		}
		p := path + "." + string(fd.Name())
		var err error
		switch v := m.Get(fd); {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				err = s.check(v.Message(), fmt.Sprintf("%s[%s]", p, mapKey(k)))
				return err == nil
			})
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = s.check(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
			}
		default:
			err = s.check(v.Message(), p)
		}
		if err != nil {
			return err
		}
	}
	if md.ExtensionRanges().Len() > 0 {
		var err error
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if !fd.IsExtension() || fd.Message() == nil {
				return true
			}
			p := fmt.Sprintf("%s.(%s)", path, fd.FullName())
			if fd.IsList() {
				l := v.List()
				for i := 0; i < l.Len() && err == nil; i++ {
					err = s.check(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
				}
			} else {
				err = s.check(v.Message(), p)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func mapKey(k protoreflect.MapKey) string {
	if s, ok := k.Interface().(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return k.String()
}

// closedEnum checks the values of a field holding a closed enum.
func closedEnum(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	vd := fd
	if fd.IsMap() {
		vd = fd.MapValue()
	}
	ed := vd.Enum()
	bad := func(n protoreflect.EnumNumber, p string) error {
		if ed.Values().ByNumber(n) == nil {
			return fmt.Errorf("%s: %d is not a value of enum %s", p, n, ed.FullName())
		}
		return nil
	}
	switch {
	case fd.IsMap():
		var err error
		v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			err = bad(v.Enum(), fmt.Sprintf("%s[%s]", path, mapKey(k)))
			return err == nil
		})
		return err
	case fd.IsList():
		l := v.List()
		for i := range l.Len() {
			if err := bad(l.Get(i).Enum(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return bad(v.Enum(), path)
}

// unknownError says what the first unknown field of a message in path is.
func (s *schema) unknownError(md protoreflect.MessageDescriptor, u []byte, path string) error {
	num, typ, n := protowire.ConsumeTag(u)
	if n < 0 {
		return fmt.Errorf("%s: unparsable unknown fields", path)
	}
	fd := md.Fields().ByNumber(num)
	if fd == nil {
		if md.ExtensionRanges().Has(num) {
			if xt, err := s.opts.Resolver.FindExtensionByNumber(md.FullName(), num); err == nil {
				xd := xt.TypeDescriptor()
				return fmt.Errorf("%s.(%s): field %d has wire type %s, but the extension is declared %s",
					path, xd.FullName(), num, wireName(typ), declared(xd))
			}
			return fmt.Errorf("%s: field %d (%s) is an extension the schema does not declare", path, num, wireName(typ))
		}
		return fmt.Errorf("%s: unknown field %d (%s)", path, num, wireName(typ))
	}
	p := path + "." + string(fd.Name())
	return fmt.Errorf("%s: field %d has wire type %s, but it is declared %s", p, num, wireName(typ), declared(fd))
}

func declared(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "a map"
	case fd.Message() != nil && fd.Kind() == protoreflect.GroupKind:
		return "group " + string(fd.Message().FullName())
	case fd.Message() != nil:
		return string(fd.Message().FullName())
	case fd.Enum() != nil:
		return "enum " + string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

func wireName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "bytes"
	case protowire.StartGroupType:
		return "start group"
	case protowire.EndGroupType:
		return "end group"
	}
	return fmt.Sprintf("wire type %d", t)
}

// explain turns protobuf-go's parse error, which does not say where, into
// one naming the field: it walks the wire format along the schema to the
// first thing that does not parse. When the walk finds nothing it returns
// the library's message.
func (s *schema) explain(payload []byte, err error) error {
	if where := locate(s.md, payload, string(s.md.Name()), err.Error(), 0); where != "" {
		return errors.New(where)
	}
	return fmt.Errorf("%s: %s", s.md.Name(), clean(err))
}

// clean drops protobuf-go's "proto: " prefix (whose space is sometimes a
// no-break space, to discourage matching on messages).
func clean(err error) string {
	return strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
}

// maxDepth bounds locate's recursion (protobuf-go's default limit).
const maxDepth = protowire.DefaultRecursionLimit

// locate returns where b, an encoding of md at path, stops parsing, or "".
// libErr is protobuf-go's message, which names a string field with invalid
// UTF-8 by its full name.
func locate(md protoreflect.MessageDescriptor, b []byte, path, libErr string, depth int) string {
	if depth > maxDepth {
		return path + ": nested too deeply"
	}
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Sprintf("%s: bad field tag: %s", path, clean(protowire.ParseError(n)))
		}
		b = b[n:]
		var fd protoreflect.FieldDescriptor
		if md != nil {
			fd = md.Fields().ByNumber(num)
		}
		p := fmt.Sprintf("%s: field %d", path, num)
		if fd != nil {
			p = path + "." + string(fd.Name())
			if fd.IsList() || fd.IsMap() {
				p = fmt.Sprintf("%s[%d]", p, seen[num])
			}
		}
		seen[num]++
		if fd != nil && typ != wireType(fd) && !(typ == protowire.BytesType && fd.IsList() && isPackable(fd)) {
			return fmt.Sprintf("%s: field %d has wire type %s, but it is declared %s", p, num, wireName(typ), declared(fd))
		}
		if typ == protowire.StartGroupType {
			// A group's body runs to its end tag.
			var sub protoreflect.MessageDescriptor
			if fd != nil && fd.Kind() == protoreflect.GroupKind {
				sub = fd.Message()
			}
			v, n := protowire.ConsumeGroup(num, b)
			if n < 0 {
				return fmt.Sprintf("%s: %s", p, clean(protowire.ParseError(n)))
			}
			if where := locate(sub, v, p, libErr, depth+1); where != "" {
				return where
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return fmt.Sprintf("%s: %s", p, clean(protowire.ParseError(n)))
		}
		v := b[:n]
		b = b[n:]
		if fd == nil || typ != protowire.BytesType {
			continue
		}
		body, _ := protowire.ConsumeBytes(v)
		switch {
		case fd.IsMap():
			if where := locate(fd.Message(), body, p, libErr, depth+1); where != "" {
				return where
			}
		case fd.Kind() == protoreflect.MessageKind:
			if where := locate(fd.Message(), body, p, libErr, depth+1); where != "" {
				return where
			}
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.Valid(body) && strings.Contains(libErr, string(fd.FullName())) {
				return p + ": invalid UTF-8 in a string"
			}
		}
	}
	return ""
}

func main() {}
