// Command avro is the Avro validator plugin Trellis ships: the schema is an
// Avro schema (JSON), and a payload is valid when it is exactly one datum
// of that schema in Avro's binary encoding: it decodes, and no bytes are
// left after it. No container file header, no single-object (0xC3 0x01)
// prefix, no schema fingerprint: the bare datum.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o avro.wasm .
// (make plugins writes bin/plugins/avro.wasm).
//
// Decoding is github.com/linkedin/goavro/v2 (pure Go, no unsafe): its
// NativeFromBinary returns the bytes after the datum, which is the
// trailing-bytes check. Most payloads never reach it: a walk over the
// encoding along a tree built at compile (fast.go) vouches for the valid
// ones without allocating; goavro decides the rest and says why.
package main

import (
	"fmt"
	"strings"

	"github.com/linkedin/goavro/v2"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{
		Name:    "avro",
		Version: "1.0.0",
		Description: "Validates Avro payloads: the schema is an Avro schema (JSON), a payload " +
			"must be exactly one datum of it in Avro binary encoding (no trailing bytes).",
	}, compile)
}

// schema is a compiled Avro schema.
type schema struct {
	codec *goavro.Codec
	tree  *node  // the fast path's (fast.go); nil when it is off
	name  string // for messages: a named type's full name, or the type ("string", "array"...)
}

func compile(src []byte) (validator.Schema, error) {
	codec, err := goavro.NewCodec(string(src))
	if err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	tn := codec.TypeName()
	name := strings.TrimPrefix(tn.String(), ".")
	if name == "" {
		name = "Avro"
	}
	tree, _ := buildTree(codec.CanonicalSchema(), string(src)) // no tree: every payload goes to goavro
	return schema{codec, tree, name}, nil
}

// minBlockCount is the least block count a payload may declare (see
// Validate).
const minBlockCount = 1 << 10

func (s schema) Validate(payload []byte) error {
	// goavro sizes an array or map from its declared block count before
	// decoding the items, up to MaxBlockCount (2^31 by default): five bytes
	// could ask for gigabytes and take the instance down with the batch.
	// An item takes at least a byte unless its type encodes to nothing
	// (null, an empty record), so a count past the payload's length is
	// bogus for any sane schema. A plugin instance is single-threaded, so
	// setting the package variable per payload is safe here.
	limit := max(int64(len(payload)), minBlockCount)
	if s.tree != nil && (walker{maxBlock: limit}).surelyValid(s.tree, payload) {
		return nil
	}
	goavro.MaxBlockCount = limit
	_, rest, err := s.codec.NativeFromBinary(payload)
	if err != nil {
		return fmt.Errorf("not an Avro %s datum: %v", s.name, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("trailing bytes: the %s datum ends at byte %d of %d", s.name, len(payload)-len(rest), len(payload))
	}
	return nil
}

func main() {}
