// Package cluster runs Trellis nodes as real processes on loopback and
// checks what survives SIGKILL, leader loss, joins and full restarts.
//
// The test binary doubles as the node binary: started with
// TRELLISTEST_NODE=1 it runs `trellis serve` (node.Run, the same code the
// real binary runs) with one extra module, "probe", that exposes the
// replicated store over HTTP. The KV module will replace it once it lands;
// until then probe is how these tests write and read through a node.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/spf13/pflag"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"

	_ "github.com/trellis-cp/trellis/modules/admin"
	_ "github.com/trellis-cp/trellis/modules/connector"
	_ "github.com/trellis-cp/trellis/modules/kv"
	_ "github.com/trellis-cp/trellis/modules/operator"
	_ "github.com/trellis-cp/trellis/modules/schema"
	_ "github.com/trellis-cp/trellis/modules/tenant"
)

func TestMain(m *testing.M) {
	if os.Getenv("TRELLISTEST_NODE") == "1" {
		os.Exit(runNode(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runNode(args []string) int {
	module.Register(module.Info{Name: "probe", New: func() module.Module { return &probe{} }, DefaultEnabled: true})
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		return 2
	}
	cfg, err := config.Load(fs, os.Environ())
	if err == nil {
		err = node.Run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		return 1
	}
	return 0
}

// probe exposes its store namespace: PUT and GET /test/kv/{key...}.
type probe struct{ ns *store.Namespace }

func (p *probe) Provision(_ context.Context, h module.Host) error { p.ns = h.Store; return nil }

func (p *probe) Routes(r chi.Router) {
	r.Put("/test/kv/*", p.put)
	r.Get("/test/kv/*", p.get)
	r.Get("/test/revision", func(w http.ResponseWriter, r *http.Request) {
		httpx.JSON(w, http.StatusOK, map[string]int64{"revision": p.ns.Store().Revision()})
	})
}

func (p *probe) put(w http.ResponseWriter, r *http.Request) {
	v, err := io.ReadAll(r.Body)
	if err != nil {
		httpx.Error(w, r, http.StatusBadRequest, err.Error())
		return
	}
	res, err := p.ns.Put(r.Context(), chi.URLParam(r, "*"), v, store.PutOptions{})
	if err != nil {
		storeError(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]int64{"revision": res.Revision})
}

func (p *probe) get(w http.ResponseWriter, r *http.Request) {
	ser, _ := strconv.ParseBool(r.URL.Query().Get("serializable"))
	kv, err := p.ns.Get(r.Context(), chi.URLParam(r, "*"), store.ReadOptions{Serializable: ser})
	if err != nil {
		storeError(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"value": string(kv.Value), "mod_revision": kv.ModRevision, "version": kv.Version})
}

func storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case raft.IsUnavailable(err):
		httpx.Error(w, r, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, store.ErrNotFound):
		httpx.Error(w, r, http.StatusNotFound, err.Error())
	default:
		httpx.Error(w, r, http.StatusBadRequest, err.Error())
	}
}
