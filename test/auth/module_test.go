package authtest

import (
	"context"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/module"
)

// probe is a module registered only in this test binary: one read (GET)
// and one write (POST) route under each family's prefix, with the default
// permissions, and one POST that declares operator. Each answers
// "ok:<user>" so a test sees who the session check let through.
type probe struct{ auth *auth.Service }

func init() {
	module.Register(module.Info{Name: "authprobe", New: func() module.Module { return &probe{} }, DefaultEnabled: true})
}

// probeRoutes are the family routes, each served for GET and POST.
var probeRoutes = map[string]string{
	"etcdmonitor": "/api/kv/probe",
	"consul":      "/v1/operator/probe",
	"cockroach":   "/api/v2/probe/",
	"robustmq":    "/api/cluster/probe",
	"greptime":    "/admin/probe",
}

// operatorRoute needs the operator permission (Consul's operator:write).
const operatorRoute = "/v1/operator/raft/probe-transfer"

func (p *probe) Provision(_ context.Context, h module.Host) error {
	p.auth = h.Auth
	return nil
}

func (p *probe) Routes(r chi.Router) {
	for _, path := range probeRoutes {
		r.Get(path, answer)
		r.Post(path, answer)
	}
	p.auth.Route(r, http.MethodPost, operatorRoute, auth.PermOperator, answer)
}

func answer(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "ok:"+auth.FromContext(r.Context()).Username)
}
