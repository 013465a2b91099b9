// Command protobuf is the Protocol Buffers schema validator plugin Trellis
// ships. For now it accepts any non-empty schema and answers "not
// implemented yet" for every payload: the schema issue gives it real
// Protobuf validation.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o protobuf.wasm .
package main

import (
	"errors"
	"fmt"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{
		Name:    "protobuf",
		Version: "0.0.1",
		Description: "Protocol Buffers schema validator (not implemented yet: accepts any non-empty " +
			"schema and answers every payload \"not implemented yet\").",
	}, compile)
}

func compile(schema []byte) (validator.Schema, error) {
	if len(schema) == 0 {
		return nil, errors.New("empty schema")
	}
	return validator.SchemaFunc(func([]byte) error {
		return fmt.Errorf("protobuf validation: %w", validator.ErrNotImplemented)
	}), nil
}

func main() {}
