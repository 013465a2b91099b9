// Package kv is the kv module: etcdmonitor's KV v3 and v2 APIs on the
// replicated store.
//
// The routes, their JSON shapes and error codes are etcdmonitor's
// (internal/kvmanager in domac/etcdmonitor), so its web frontend works
// against a Trellis node unchanged. Beyond etcdmonitor the module serves
// what etcd users expect: reads at a revision, serializable reads,
// compare-and-swap puts and a watch stream. README.md documents the routes
// and the storage layout.
package kv

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/core/store"
)

func init() {
	module.Register(module.Info{Name: "kv", New: func() module.Module { return &Module{} }, DefaultEnabled: true})
}

// Limits on what a client may store, tighter than the store's own.
const (
	MaxKeyBytes   = 4 << 10
	MaxValueBytes = 3 << 19 // 1.5 MiB
	// MaxTTL is etcd's largest lease TTL, in seconds.
	MaxTTL = 9_000_000_000
)

// options are the module's config keys besides enabled.
type options struct {
	// Separator splits v3 keys into the tree keys and getpath answer.
	Separator string `koanf:"separator"`
	// WatchHeartbeat is how often a watch stream gets a comment line, so
	// proxies and clients can tell a quiet stream from a dead one.
	WatchHeartbeat time.Duration `koanf:"watch_heartbeat"`
}

func defaultOptions() options {
	return options{Separator: "/", WatchHeartbeat: 15 * time.Second}
}

// Module is the kv module.
type Module struct {
	opts    options
	ns      *store.Namespace
	auth    *auth.Service
	cluster module.Cluster
	log     *slog.Logger

	stop context.CancelFunc
	done chan struct{}
}

// Defaults implements module.Configurer.
func (m *Module) Defaults() any {
	m.opts = defaultOptions()
	return &m.opts
}

// Provision implements module.Provisioner.
func (m *Module) Provision(_ context.Context, h module.Host) error {
	if h.Store == nil {
		return fmt.Errorf("kv: no store namespace")
	}
	m.ns, m.auth, m.cluster, m.log = h.Store, h.Auth, h.Cluster, h.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.opts == (options{}) {
		m.opts = defaultOptions()
	}
	return nil
}

// Validate implements module.Validator.
func (m *Module) Validate() error {
	if s := m.opts.Separator; s == "" || len(s) > 16 {
		return fmt.Errorf("kv: modules.kv.separator must be 1 to 16 bytes, got %q", s)
	}
	if d := m.opts.WatchHeartbeat; d < 10*time.Millisecond {
		return fmt.Errorf("kv: modules.kv.watch_heartbeat must be at least 10ms, got %s", d)
	}
	return nil
}

// Start implements module.Starter: it runs the v2 directory collector.
func (m *Module) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	m.stop, m.done = cancel, make(chan struct{})
	go m.collectExpiredDirs(ctx)
	return nil
}

// Stop implements module.Stopper.
func (m *Module) Stop(ctx context.Context) error {
	if m.stop == nil {
		return nil
	}
	m.stop()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kv: stop: %w", ctx.Err())
	}
}

// Routes mounts etcdmonitor's KV routes for v3 and v2, and the v3 watch.
// connect is a POST in etcdmonitor's frontend that only reads, so it is
// declared with the read permission; every other route keeps the default
// (read for GET, write for PUT and POST).
func (m *Module) Routes(r chi.Router) {
	for _, api := range []struct {
		base   string
		routes map[string]handlerFunc
	}{
		{"/api/kv/v3", map[string]handlerFunc{
			"separator": m.v3Separator, "keys": m.v3Keys, "getpath": m.v3GetPath, "get": m.v3Get,
		}},
		{"/api/kv/v2", map[string]handlerFunc{
			"separator": m.v2Separator, "keys": m.v2Keys, "getpath": m.v2GetPath, "get": m.v2Get,
		}},
	} {
		m.route(r, http.MethodPost, api.base+"/connect", auth.PermRead, m.handle(m.connect))
		r.Get(api.base+"/connect", m.handle(m.connect))
		for name, h := range api.routes {
			r.Get(api.base+"/"+name, m.handle(h))
		}
	}
	r.Put("/api/kv/v3/put", m.handle(m.v3Put))
	r.Post("/api/kv/v3/delete", m.handle(m.v3Delete))
	r.Put("/api/kv/v2/put", m.handle(m.v2Put))
	r.Post("/api/kv/v2/delete", m.handle(m.v2Delete))
	r.Get("/api/kv/v3/watch", m.watch)
}

func (m *Module) route(r chi.Router, method, pattern string, perm auth.Permission, h http.HandlerFunc) {
	if m.auth == nil {
		r.Method(method, pattern, h)
		return
	}
	m.auth.Route(r, method, pattern, perm, h)
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle turns a handlerFunc into a route: it refuses foreign tab ids as
// etcdmonitor does without multi-cluster tabs, and writes any error in
// etcdmonitor's shape.
func (m *Module) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := checkTab(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			m.fail(w, r, err)
		}
	}
}

func (m *Module) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Code == apierr.CodeInternal {
		m.log.Error("kv request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, ae)
}

var (
	_ module.Configurer  = (*Module)(nil)
	_ module.Provisioner = (*Module)(nil)
	_ module.Validator   = (*Module)(nil)
	_ module.Starter     = (*Module)(nil)
	_ module.Stopper     = (*Module)(nil)
)
