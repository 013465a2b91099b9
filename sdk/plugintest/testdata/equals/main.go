// Command equals is plugintest's own test plugin: a validator for which a
// payload is valid when it equals the schema.
package main

import (
	"bytes"
	"fmt"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{Name: "equals", Version: "1.0.0", Description: "payload == schema"},
		func(schema []byte) (validator.Schema, error) {
			return validator.SchemaFunc(func(p []byte) error {
				if !bytes.Equal(p, schema) {
					return fmt.Errorf("%q is not %q", p, schema)
				}
				return nil
			}), nil
		})
}

func main() {}
