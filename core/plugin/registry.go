package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrNotFound is returned by Registry.Acquire for an unknown name.
var ErrNotFound = errors.New("plugin not found")

// Registry maps plugin names to their current version. Put swaps in a new
// version: callers that already hold the old one finish on it, and it
// closes after its last call; new calls go to the new one.
type Registry struct {
	mu sync.RWMutex
	m  map[string]*Plugin
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]*Plugin{}} }

// Put makes p the current version of p.Name() and retires the previous
// one, which it returns (nil if there was none).
func (r *Registry) Put(p *Plugin) (old *Plugin) {
	r.mu.Lock()
	old = r.m[p.name]
	r.m[p.name] = p
	r.mu.Unlock()
	if old != nil && old != p {
		old.Retire()
	}
	return old
}

// Remove retires and unregisters name; it reports whether it was there.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	p, ok := r.m[name]
	delete(r.m, name)
	r.mu.Unlock()
	if ok {
		p.Retire()
	}
	return ok
}

// Get returns the current version of name, or nil. To call it, prefer
// Acquire: a version fetched with Get may be swapped out and closed before
// the call begins.
func (r *Registry) Get(name string) *Plugin {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name]
}

// Acquire returns the current version of name, held open until release is
// called: a swap while it is held lets the caller's calls finish on it.
func (r *Registry) Acquire(name string) (p *Plugin, release func(), err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p = r.m[name]
	if p == nil {
		return nil, nil, fmt.Errorf("plugin %s: %w", name, ErrNotFound)
	}
	if err := p.enter(); err != nil {
		return nil, nil, err
	}
	var once sync.Once
	return p, func() { once.Do(p.leave) }, nil
}

// List returns the current versions, sorted by name.
func (r *Registry) List() []*Plugin {
	r.mu.RLock()
	out := make([]*Plugin, 0, len(r.m))
	for _, p := range r.m {
		out = append(out, p)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Close unregisters and closes every plugin, waiting for in-flight calls
// until ctx ends.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	ps := r.m
	r.m = map[string]*Plugin{}
	r.mu.Unlock()
	var errs []error
	for _, p := range ps {
		if err := p.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
