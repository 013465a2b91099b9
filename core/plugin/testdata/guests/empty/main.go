// Command empty is a test plugin that does nothing per record: every
// payload is valid. It measures the SDK's and the host's own cost.
package main

import "github.com/trellis-cp/trellis/sdk/validator"

func init() {
	validator.Register(validator.Info{Name: "empty", Version: "1.0.0", Description: "every payload is valid"},
		func([]byte) (validator.Schema, error) {
			return validator.SchemaFunc(func([]byte) error { return nil }), nil
		})
}

func main() {}
