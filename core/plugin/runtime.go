package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"
)

// Options configure a Host.
type Options struct {
	// CacheDir keeps compiled code across restarts (the node passes
	// <data_dir>/plugin-cache). Empty keeps it in memory only.
	CacheDir string
	// Logger receives the host's lines and the plugins' own; the host adds
	// module=plugin and plugin=<name>.
	Logger *slog.Logger
	// Metrics is the node's registry (core/metrics). Nil keeps metrics in
	// a private registry nobody scrapes.
	Metrics prometheus.Registerer
	// Interpreter runs plugins in wazero's interpreter instead of compiling
	// them: slower calls, no compile time; for platforms without wazero's
	// compiler. Default: compiler where supported.
	Interpreter bool
}

// Host loads and runs plugins. One per node; safe for concurrent use.
type Host struct {
	cache    wazero.CompilationCache
	cacheDir string
	logger   *slog.Logger
	metrics  *hostMetrics
	interp   bool

	mu      sync.Mutex
	plugins map[*Plugin]struct{}
	closed  bool
}

// NewHost prepares a host. The compilation cache is shared by every plugin
// it loads: the same module bytes are compiled once, whatever their name,
// and with CacheDir the compiled code survives a restart.
func NewHost(opts Options) (*Host, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	reg := opts.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newHostMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("plugin: metrics: %w", err)
	}
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		if cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("plugin: compilation cache %s: %w", opts.CacheDir, err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	return &Host{
		cache:    cache,
		cacheDir: opts.CacheDir,
		logger:   logger.With("module", "plugin"),
		metrics:  m,
		interp:   opts.Interpreter,
		plugins:  map[*Plugin]struct{}{},
	}, nil
}

// runtimeConfig is the wazero configuration of one plugin.
//
// Every plugin gets its own wazero.Runtime because the memory limit is a
// runtime setting; compiled code is still shared through the cache.
//
// WithCloseOnContextDone stays off: calls are stopped at their deadline by
// the loop checks Load instruments into every module (deadline.go), at a
// fraction of its cost. It must stay off for every plugin alike, because
// wazero's cache does not key compiled code by this flag.
func (h *Host) runtimeConfig(m Manifest) wazero.RuntimeConfig {
	var c wazero.RuntimeConfig
	if h.interp {
		c = wazero.NewRuntimeConfigInterpreter()
	} else {
		c = wazero.NewRuntimeConfig()
	}
	return c.WithCompilationCache(h.cache).
		WithCloseOnContextDone(false).
		WithMemoryLimitPages(m.MemoryPages)
}

func (h *Host) track(p *Plugin) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("plugin: host is closed")
	}
	h.plugins[p] = struct{}{}
	return nil
}

func (h *Host) untrack(p *Plugin) {
	h.mu.Lock()
	delete(h.plugins, p)
	h.mu.Unlock()
}

// Close closes every plugin loaded through the host (waiting for their
// in-flight calls until ctx is done, then forcing them) and the cache.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	ps := make([]*Plugin, 0, len(h.plugins))
	for p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	var errs []error
	for _, p := range ps {
		if err := p.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.cache.Close(context.Background()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newRuntime(ctx context.Context, h *Host, m Manifest) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, h.runtimeConfig(m))
}
