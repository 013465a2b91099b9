// Command equals2 is version 2 of plugintest's equals validator (same
// name, same behaviour, different module), for the replacement tests.
package main

import (
	"bytes"
	"fmt"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{Name: "equals", Version: "2.0.0", Description: "payload == schema, version 2"},
		func(schema []byte) (validator.Schema, error) {
			return validator.SchemaFunc(func(p []byte) error {
				if !bytes.Equal(p, schema) {
					return fmt.Errorf("v2: %q is not %q", p, schema)
				}
				return nil
			}), nil
		})
}

func main() {}
