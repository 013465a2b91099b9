// Package node wires a Trellis node together: it joins the cluster if asked,
// opens the replicated store, provisions and starts the enabled modules,
// mounts their routes on the HTTP server, and stops it all in reverse order.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/metrics"
	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/server"
	"github.com/trellis-cp/trellis/core/store"
)

// Node is one running Trellis node.
type Node struct {
	cfg     *config.Config
	logger  *slog.Logger
	metrics *metrics.Registry
	store   *store.Store
	auth    *auth.Service
	audit   *audit.Log
	peers   *peerHTTP
	http    *server.Server
	modules []*running
	plugins *pluginManager
	// manifests are plugins.manifests decoded at Start.
	manifests map[string]plugin.Manifest
	// stopBg tells background goroutines (announce) to return; Stop waits
	// for them on bg before it closes the store they read.
	stopBg chan struct{}
	bg     sync.WaitGroup
}

type running struct {
	name string
	mod  module.Module
}

// New prepares a node; Start brings it up.
func New(cfg *config.Config, logger *slog.Logger) *Node {
	if logger == nil {
		logger = slog.Default()
	}
	return &Node{cfg: cfg, logger: logger.With("node", cfg.Node.ID)}
}

// Auth is the node's session system.
func (n *Node) Auth() *auth.Service { return n.auth }

// Audit is the node's audit log of mutating requests.
func (n *Node) Audit() *audit.Log { return n.audit }

// Store is the node's replicated store (tests and tools use it).
func (n *Node) Store() *store.Store { return n.store }

// HTTPAddr is the bound HTTP address.
func (n *Node) HTTPAddr() string { return n.http.Addr() }

// Start brings the node up. Any failure undoes what was started and returns
// one error that says what failed.
func (n *Node) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			n.Stop(context.Background())
		}
	}()
	enabled, err := n.resolveModules()
	if err != nil {
		return err
	}
	if n.manifests, err = decodeManifests(n.cfg.Plugins.Manifests); err != nil {
		return err
	}
	if err := os.MkdirAll(n.cfg.Node.DataDir, 0o750); err != nil {
		return fmt.Errorf("node: data dir %s: %w", n.cfg.Node.DataDir, err)
	}
	// Bind both ports before touching storage: a port in use is then the
	// first and only thing start-up reports.
	httpLn, err := server.Listen(n.cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	raftLn, err := raft.Listen(n.cfg.Raft.Addr)
	if err != nil {
		httpLn.Close()
		return err
	}
	n.metrics = metrics.New()
	rc, err := n.raftConfig(ctx)
	if err != nil {
		httpLn.Close()
		raftLn.Close()
		return err
	}
	rc.Listener = raftLn
	n.store, err = store.Open(store.Options{
		DataDir: n.cfg.Node.DataDir, Raft: rc, Logger: n.logger,
		QuotaBytes: n.cfg.Storage.QuotaBytes, QuotaCheckInterval: n.cfg.Storage.QuotaCheckInterval,
		AutoCompaction: autoCompaction(n.cfg.Storage),
	})
	if err != nil {
		httpLn.Close()
		raftLn.Close()
		return err
	}
	n.registerStoreMetrics()
	authNS, err := n.store.Namespace(auth.Namespace)
	if err != nil {
		return err
	}
	n.auth = auth.New(auth.Config{
		Enabled:          n.cfg.Auth.Enabled,
		AdminPassword:    n.cfg.Auth.AdminPassword,
		LockoutThreshold: n.cfg.Auth.LockoutThreshold,
		LockoutDuration:  n.cfg.Auth.LockoutDuration,
		SessionTTL:       n.cfg.Auth.SessionTTL,
		DataDir:          n.cfg.Node.DataDir,
	}, authNS, n.logger)
	auditNS, err := n.store.Namespace(audit.Namespace)
	if err != nil {
		return err
	}
	n.audit = audit.New(auditNS, audit.Options{
		NodeID:     n.cfg.Node.ID,
		MaxEntries: n.cfg.Audit.MaxEntries,
		Retention:  n.cfg.Audit.Retention,
		Identify:   audit.SessionIdentity(n.auth),
		Logger:     n.logger,
		Metrics:    n.metrics.Registerer(),
	})
	n.http = server.New(server.Options{
		Addr:            n.cfg.HTTP.Addr,
		TLSCertFile:     n.cfg.HTTP.TLS.CertFile,
		TLSKeyFile:      n.cfg.HTTP.TLS.KeyFile,
		TLSClientCAFile: n.cfg.HTTP.TLS.CAFile,
		MaxBodyBytes:    n.cfg.HTTP.MaxBodyBytes,
		// Plugin uploads are raw modules, megabytes rather than JSON.
		BodyLimits:      map[string]int64{http.MethodPost + " /api/plugins": n.cfg.Plugins.MaxModuleBytes},
		ReadTimeout:     n.cfg.HTTP.ReadTimeout,
		WriteTimeout:    n.cfg.HTTP.WriteTimeout,
		ShutdownTimeout: n.cfg.HTTP.ShutdownTimeout,
		Logger:          n.logger,
		Metrics:         n.metrics,
		Health:          &health{n: n},
		Listener:        httpLn,
		MetricsGuard:    n.auth.Require(auth.PermRead),
		RateLimit:       n.cfg.HTTP.RateLimit,
		RateBurst:       n.cfg.HTTP.RateBurst,
		// The audit log sees every route, core auth and /raft/* included.
		Middleware: []func(http.Handler) http.Handler{n.audit.Middleware},
	})
	if n.peers, err = newPeerHTTP(n); err != nil {
		return err
	}
	if err := n.startPlugins(ctx); err != nil {
		return err
	}
	root := n.http.Router()
	n.mountMembership(root)
	n.auth.MountRoutes(root)
	// Every module route sits behind the session check.
	var provisionErr error
	root.Group(func(r chi.Router) {
		r.Use(n.auth.Middleware)
		n.mountPlugins(r)
		on := map[string]bool{}
		for _, info := range enabled {
			on[info.Name] = true
			if provisionErr = n.provision(ctx, info, r); provisionErr != nil {
				return
			}
		}
		for _, info := range module.All() {
			if !on[info.Name] && info.Disabled != nil {
				info.Disabled(r)
			}
		}
	})
	if provisionErr != nil {
		return provisionErr
	}
	if err := n.http.Start(); err != nil {
		return err
	}
	if err := n.auth.Start(ctx); err != nil {
		return err
	}
	for _, r := range n.modules {
		if s, ok := r.mod.(module.Starter); ok {
			if err := s.Start(ctx); err != nil {
				return fmt.Errorf("node: module %s failed to start: %w", r.name, err)
			}
		}
	}
	n.stopBg = make(chan struct{})
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		n.announce(n.store.Raft(), n.stopBg)
	}()
	n.logger.Info("trellis node started", "http", n.http.Addr(), "raft", n.store.Raft().PeerAddr(),
		"data_dir", n.cfg.Node.DataDir, "modules", len(n.modules), "gomaxprocs", runtime.GOMAXPROCS(0))
	if n.cfg.HTTPUnreachable() {
		n.logger.Warn("http.addr binds every interface: the other members forward requests to it there, "+
			"which works only on one machine; set http.advertise_addr", "http_addr", n.cfg.HTTP.Addr)
	}
	return nil
}

// resolveModules checks module names in the config against the registry
// and returns the enabled ones.
func (n *Node) resolveModules() ([]module.Info, error) {
	all := module.All()
	var names []string
	for _, info := range all {
		names = append(names, info.Name)
	}
	if err := n.cfg.CheckModules(names); err != nil {
		return nil, err
	}
	var enabled []module.Info
	for _, info := range all {
		mc, ok := n.cfg.Modules[info.Name]
		if (ok && mc.Enabled) || (!ok && info.DefaultEnabled) {
			enabled = append(enabled, info)
		}
	}
	return enabled, nil
}

func (n *Node) provision(ctx context.Context, info module.Info, r chi.Router) error {
	mod := info.New()
	opts := n.cfg.Modules[info.Name].Options
	if c, ok := mod.(module.Configurer); ok {
		if err := config.DecodeModuleOptions(info.Name, opts, c.Defaults()); err != nil {
			return err
		}
	} else if len(opts) > 0 {
		for k := range opts {
			return fmt.Errorf("config: modules.%s.%s: unknown key (module %s takes no options)", info.Name, k, info.Name)
		}
	}
	ns, err := n.store.Namespace(info.Name)
	if err != nil {
		return err
	}
	dir := filepath.Join(n.cfg.Node.DataDir, "modules", info.Name)
	host := module.Host{
		NodeID:      n.cfg.Node.ID,
		Store:       ns,
		Auth:        n.auth,
		Audit:       n.audit,
		Maintenance: n.store,
		Peers:       n.peers,
		Cluster:     n.store.Raft(),
		Logger:      n.logger.With("module", info.Name),
		Options:     opts,
		DataDir:     dir,
		Plugins:     n.plugins.reg,
	}
	if p, ok := mod.(module.Provisioner); ok {
		if err := p.Provision(ctx, host); err != nil {
			return fmt.Errorf("node: module %s failed to provision: %w", info.Name, err)
		}
	}
	if v, ok := mod.(module.Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("node: module %s: invalid config: %w", info.Name, err)
		}
	}
	mod.Routes(r)
	n.modules = append(n.modules, &running{name: info.Name, mod: mod})
	return nil
}

// advertisedHTTP is the HTTP address the other members forward requests
// to: http.advertise_addr, else the address the listener got (the port a
// ":0" asked for included).
func (n *Node) advertisedHTTP() string {
	if a := n.cfg.HTTP.AdvertiseAddr; a != "" {
		return a
	}
	return n.http.Addr()
}

// announce records this node's name and HTTP address in the member table
// so other nodes can show and forward to it. It retries until a leader
// accepts it or the node stops.
func (n *Node) announce(rn *raft.Node, stop <-chan struct{}) {
	want := raft.Member{ID: n.cfg.Node.ID, Name: n.cfg.NodeName(), HTTPAddr: n.advertisedHTTP()}
	for attempt := 0; attempt < 600; attempt++ {
		select {
		case <-rn.Done():
			return
		case <-stop:
			return
		default:
		}
		for _, m := range rn.Members() {
			if m.ID == want.ID && m.Name == want.Name && m.HTTPAddr == want.HTTPAddr {
				return
			}
		}
		if rn.Leader() != 0 && !rn.Removed() && isMember(rn, want.ID) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := rn.UpdateMember(ctx, want)
			cancel()
			if err == nil {
				continue
			}
			if !errors.Is(err, raft.ErrStopped) {
				n.logger.Debug("announce member address", "err", err)
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func isMember(rn *raft.Node, id uint64) bool {
	for _, m := range rn.Members() {
		if m.ID == id {
			return true
		}
	}
	return false
}

// Stop drains HTTP, stops modules, then raft and the stores. Safe to call
// on a partly started node.
func (n *Node) Stop(ctx context.Context) error {
	var errs []error
	if n.stopBg != nil {
		close(n.stopBg)
		n.bg.Wait()
		n.stopBg = nil
	}
	if n.http != nil {
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// In-flight requests have drained: write their entries while raft runs.
	if n.audit != nil {
		if err := n.audit.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		n.audit = nil
	}
	for i := len(n.modules) - 1; i >= 0; i-- {
		if s, ok := n.modules[i].mod.(module.Stopper); ok {
			if err := s.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("module %s: %w", n.modules[i].name, err))
			}
		}
	}
	n.modules = nil
	if err := n.stopPlugins(ctx); err != nil {
		errs = append(errs, err)
	}
	if n.auth != nil {
		n.auth.Stop()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, err)
		}
		n.store = nil
	}
	return errors.Join(errs...)
}

// Done is closed if the raft loop stops on its own (a fatal storage error).
func (n *Node) Done() <-chan struct{} { return n.store.Raft().Done() }

// Err is the error that stopped the raft loop, if any.
func (n *Node) Err() error { return n.store.Raft().Err() }
