// Command avro is the Avro schema validator plugin Trellis ships. For now
// it checks that a schema is a JSON document (Avro schemas are JSON) and
// answers "not implemented yet" for every payload: the schema issue gives
// it real Avro validation.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o avro.wasm .
package main

import (
	"encoding/json"
	"fmt"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{
		Name:    "avro",
		Version: "0.0.1",
		Description: "Avro schema validator (not implemented yet: accepts any JSON schema document " +
			"and answers every payload \"not implemented yet\").",
	}, compile)
}

func compile(schema []byte) (validator.Schema, error) {
	if !json.Valid(schema) {
		return nil, fmt.Errorf("an Avro schema is a JSON document; this one is not valid JSON")
	}
	return validator.SchemaFunc(func([]byte) error {
		return fmt.Errorf("avro validation: %w", validator.ErrNotImplemented)
	}), nil
}

func main() {}
