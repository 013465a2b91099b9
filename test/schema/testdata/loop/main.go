// Command loop is a hostile validator for the schema tests: it compiles
// any schema, and spins forever on the payload "spin" (every other
// payload is valid).
package main

import "github.com/trellis-cp/trellis/sdk/validator"

func init() {
	validator.Register(validator.Info{Name: "loop", Version: "1.0.0", Description: "spins forever on the payload \"spin\""},
		func([]byte) (validator.Schema, error) {
			return validator.SchemaFunc(func(p []byte) error {
				n := 0
				for string(p) == "spin" {
					n++
				}
				_ = n
				return nil
			}), nil
		})
}

func main() {}
