package operator

import "github.com/go-chi/chi/v5"

// opsRoutes mounts etcdmonitor's ops API. TODO(issue 5): being built.
func (m *Module) opsRoutes(r chi.Router) {}
