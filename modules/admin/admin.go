// Package admin is the admin module: GreptimeDB's metasrv admin API, CockroachDB's Cluster API v2 nodes and ranges, and etcdmonitor's dashboard API.
//
// It registers itself at init and modules.admin.enabled decides whether it
// runs; it serves no routes until its issue lands.
package admin

import (
	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "admin", New: func() module.Module { return Module{} }, DefaultEnabled: true})
}

// Module is the admin module.
type Module struct{}

// Routes mounts the module's routes: none yet.
func (Module) Routes(chi.Router) {}
