// Package kv is the kv module: etcdmonitor's KV v3 and v2 APIs on the replicated store.
//
// It registers itself at init and modules.kv.enabled decides whether it
// runs; it serves no routes until its issue lands.
package kv

import (
	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "kv", New: func() module.Module { return Module{} }, DefaultEnabled: true})
}

// Module is the kv module.
type Module struct{}

// Routes mounts the module's routes: none yet.
func (Module) Routes(chi.Router) {}
