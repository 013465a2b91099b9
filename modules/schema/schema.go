// Package schema is the schema module: RobustMQ's schema and schema-binding APIs, with validators run as WebAssembly plugins.
//
// It registers itself at init and modules.schema.enabled decides whether it
// runs; it serves no routes until its issue lands.
package schema

import (
	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "schema", New: func() module.Module { return Module{} }, DefaultEnabled: true})
}

// Module is the schema module.
type Module struct{}

// Routes mounts the module's routes: none yet.
func (Module) Routes(chi.Router) {}
