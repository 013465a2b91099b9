package kv

import (
	"net/http"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
)

// connect answers etcdmonitor's cluster summary: version, the leader's
// name and the state store's size. v2 answers the same, as etcdmonitor's
// v2 connect borrows v3's figures.
func (m *Module) connect(w http.ResponseWriter, r *http.Request) error {
	audit.Skip(r.Context()) // a POST that changes nothing
	leader := m.cluster.Leader()
	if leader == 0 {
		return apierr.Errorf(http.StatusServiceUnavailable, apierr.CodeUnavailable, "cluster unavailable: no leader")
	}
	name := ""
	for _, mem := range m.cluster.Members() {
		if mem.ID == leader {
			name = mem.Name
		}
	}
	_, size := m.ns.Store().Sizes()
	httpx.JSON(w, http.StatusOK, ConnectInfo{Version: auth.AppVersion, Name: name, Size: size, SizeStr: formatSize(size)})
	return nil
}

func (m *Module) v3Separator(w http.ResponseWriter, _ *http.Request) error {
	httpx.JSON(w, http.StatusOK, SeparatorResponse{Separator: m.opts.Separator})
	return nil
}

// v2Separator is always "/": v2 keys are paths.
func (m *Module) v2Separator(w http.ResponseWriter, _ *http.Request) error {
	httpx.JSON(w, http.StatusOK, SeparatorResponse{Separator: "/"})
	return nil
}
