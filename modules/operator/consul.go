package operator

import "github.com/go-chi/chi/v5"

// consulRoutes mounts Consul's operator raft API. TODO(issue 5): being built.
func (m *Module) consulRoutes(r chi.Router) {}
