package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// Plugin is one loaded version of a plugin: its compiled module, its pool
// of instances and its manifest. Calls on it are safe for concurrent use.
//
// A Plugin counts the calls in flight; Retire lets them finish and closes
// the plugin after the last one, which is how a Registry swaps versions
// without failing a call.
type Plugin struct {
	host     *Host
	name     string
	digest   string
	size     int
	manifest Manifest
	desc     Description
	stats    LoadStats
	logger   *slog.Logger

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	pool     *pool
	grants   []pathGrant
	http     *http.Client

	metricNames guestMetricNames
	mValidate   *callMetrics
	mCompile    *callMetrics
	mWrite      *callMetrics
	mOpen       *callMetrics

	mu      sync.Mutex
	refs    int
	retired bool
	closed  bool
	done    chan struct{}
}

// LoadStats are the costs of loading, for the list view and benchmarks.
type LoadStats struct {
	// Compile is the time to compile (or fetch from the cache).
	Compile time.Duration
	// Instantiate is the time to start the first instance.
	Instantiate time.Duration
	// Warm is the time to start the other warm instances.
	Warm time.Duration
}

// Name is the name the plugin was loaded under (the registry key).
func (p *Plugin) Name() string { return p.name }

// Describe is the plugin's own description, read at load.
func (p *Plugin) Describe() Description { return p.desc }

// Kind is the described kind.
func (p *Plugin) Kind() Kind { return p.desc.Kind }

// Digest is the module's SHA-256, hex.
func (p *Plugin) Digest() string { return p.digest }

// Size is the module's size in bytes.
func (p *Plugin) Size() int { return p.size }

// Manifest is the manifest in force, defaults filled in.
func (p *Plugin) Manifest() Manifest { return p.manifest }

// LoadStats says what loading cost.
func (p *Plugin) LoadStats() LoadStats { return p.stats }

// Stats is a snapshot of a plugin's pool.
type Stats struct {
	// Live instances, idle or busy.
	Live int
	// Idle instances ready for a call.
	Idle int
	// Discarded instances since load (trap, timeout, memory, protocol).
	Discarded int64
	// InFlight calls and open connectors.
	InFlight int
	Retired  bool
}

// Stats returns the pool's current state.
func (p *Plugin) Stats() Stats {
	p.mu.Lock()
	refs, retired := p.refs, p.retired
	p.mu.Unlock()
	return Stats{Live: len(p.pool.slots), Idle: len(p.pool.idle), Discarded: p.pool.discarded.Load(),
		InFlight: refs, Retired: retired}
}

// Done is closed once the plugin has closed (after Retire or Close and
// the last in-flight call). A long-lived user such as an open connector
// may watch it through the registry to move to the new version.
func (p *Plugin) Done() <-chan struct{} { return p.done }

// Retired reports whether Retire or Close was called.
func (p *Plugin) Retired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retired
}

// enter counts a call in. It fails only once the plugin has closed.
func (p *Plugin) enter() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("plugin %s: %w", p.name, ErrClosed)
	}
	p.refs++
	return nil
}

// leave counts a call out and closes a retired plugin after its last call.
func (p *Plugin) leave() {
	p.mu.Lock()
	p.refs--
	last := p.refs == 0 && p.retired && !p.closed
	if last {
		p.closed = true
	}
	p.mu.Unlock()
	if last {
		p.release()
	}
}

// Retire closes the plugin once its in-flight calls and open connectors
// are done, without waiting. New calls are still accepted until then (a
// caller that fetched the plugin just before a swap still gets served);
// a Registry stops handing it out at once.
func (p *Plugin) Retire() {
	p.mu.Lock()
	p.retired = true
	now := p.refs == 0 && !p.closed
	if now {
		p.closed = true
	}
	p.mu.Unlock()
	if now {
		p.release()
	}
}

// Close retires the plugin and waits until it has closed. If ctx ends
// first, the plugin is closed at once: calls still running fail.
func (p *Plugin) Close(ctx context.Context) error {
	p.Retire()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	force := !p.closed
	p.closed = true
	p.mu.Unlock()
	if force {
		p.release()
	}
	return fmt.Errorf("plugin %s: closed with calls in flight: %w", p.name, ctx.Err())
}

// release frees the pool, the runtime and the HTTP client; it runs once.
func (p *Plugin) release() {
	p.pool.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.rt.Close(ctx); err != nil {
		p.logger.Warn("plugin runtime close", "err", err)
	}
	if p.http != nil {
		p.http.CloseIdleConnections()
	}
	p.host.metrics.instances.DeleteLabelValues(p.name)
	p.host.untrack(p)
	p.logger.Info("plugin closed", "version", p.desc.Version, "sha256", p.digest[:12])
	close(p.done)
}

// run is the frame of every call: count in, take an instance, run fn on
// it, give the instance back (discarding it if it failed), count out.
func (p *Plugin) run(ctx context.Context, fn func(in *instance) error) error {
	if err := p.enter(); err != nil {
		return err
	}
	defer p.leave()
	in, err := p.pool.get(ctx)
	if err != nil {
		return err
	}
	defer p.pool.put(in)
	return fn(in)
}

// observe records one call's metrics.
func observe(m *callMetrics, start time.Time, records int, err error) {
	m.duration.Observe(time.Since(start).Seconds())
	if records > 0 {
		m.records.Add(float64(records))
	}
	switch {
	case err == nil:
		m.ok.Inc()
	case isGuestError(err):
		m.guestErr.Inc()
	case isTimeout(err):
		m.timeout.Inc()
	default:
		m.trap.Inc()
	}
}

func (p *Plugin) checkKind(k abi.Kind) error {
	if p.desc.Kind != k {
		return fmt.Errorf("plugin %s is a %s: %w", p.name, p.desc.Kind, ErrKind)
	}
	return nil
}
