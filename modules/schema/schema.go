// Package schema is the schema module: RobustMQ's schema and
// schema-binding APIs, with every schema type checked by a validator
// plugin.
//
// A schema belongs to a tenant and names its type; the type is the name
// of a loaded validator plugin (json, avro and protobuf ship with Trellis;
// a validator dropped into plugins.dir or uploaded adds a type at once). A
// binding ties a schema to a topic or an MQTT topic filter; a payload
// published to a topic must pass every schema bound to it. The validate
// route lets users test payloads, and ValidateTopic is the service the
// tenant module's publish path calls. README.md documents the routes.
package schema

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/store"
)

func init() {
	module.Register(module.Info{Name: "schema", New: func() module.Module { return &Module{} }, DefaultEnabled: true})
}

// Module is the schema module.
type Module struct {
	ns      *store.Namespace
	auth    *auth.Service
	plugins *plugin.Registry
	log     *slog.Logger
	now     func() time.Time
}

// Provision implements module.Provisioner.
func (m *Module) Provision(_ context.Context, h module.Host) error {
	if h.Store == nil || h.Plugins == nil || h.Auth == nil {
		return fmt.Errorf("schema: needs the store, the plugin registry and auth")
	}
	m.ns, m.auth, m.plugins, m.log = h.Store, h.Auth, h.Plugins, h.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	m.now = func() time.Time { return time.Now().UTC() }
	return nil
}

// Routes mounts RobustMQ's schema routes and Trellis's validate route.
// Lists need read, changes write; validate only reads, so it is declared
// with read although it is a POST.
func (m *Module) Routes(r chi.Router) {
	r.Get("/api/cluster/schema/list", m.handleList)
	r.Post("/api/cluster/schema/create", m.handleCreate)
	r.Post("/api/cluster/schema/delete", m.handleDelete)
	m.auth.Route(r, "POST", "/api/cluster/schema/validate", auth.PermRead, m.handleValidate)
	r.Get("/api/cluster/schema-bind/list", m.handleBindList)
	r.Post("/api/cluster/schema-bind/create", m.handleBind)
	r.Post("/api/cluster/schema-bind/delete", m.handleUnbind)
}
