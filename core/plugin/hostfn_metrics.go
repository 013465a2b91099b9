package plugin

import (
	"context"
	"math"
	"regexp"
	"sync"

	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// maxGuestMetrics bounds the distinct metric names one plugin may create:
// each is a time series in the node's registry.
const maxGuestMetrics = 64

var metricName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// guestMetricNames is the set of names a plugin has used, shared by its
// instances.
type guestMetricNames struct {
	mu    sync.Mutex
	names map[string]bool
}

func (g *guestMetricNames) admit(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.names[name] {
		return true
	}
	if len(g.names) >= maxGuestMetrics {
		return false
	}
	if g.names == nil {
		g.names = map[string]bool{}
	}
	g.names[name] = true
	return true
}

func (in *instance) metricName(mod api.Module, stack []uint64) (string, uint64, bool) {
	b, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		return "", in.errno(abi.ErrnoInvalid, "metric name outside memory"), false
	}
	name := string(b)
	if !metricName.MatchString(name) {
		return "", in.errno(abi.ErrnoInvalid, "metric name %q is not [a-z][a-z0-9_]{0,63}", name), false
	}
	if !in.p.metricNames.admit(name) {
		return "", in.errno(abi.ErrnoLimit, "plugin already has %d metric names", maxGuestMetrics), false
	}
	return name, 0, true
}

// hostMetricCounterAdd adds to trellis_plugin_guest_counter_total{plugin,name}.
func hostMetricCounterAdd(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	name, errv, ok := in.metricName(mod, stack)
	if !ok {
		stack[0] = errv
		return
	}
	delta := api.DecodeF64(stack[2])
	if delta < 0 || math.IsNaN(delta) || math.IsInf(delta, 0) {
		stack[0] = in.errno(abi.ErrnoInvalid, "counter %s: delta %v must be finite and not negative", name, delta)
		return
	}
	in.p.host.metrics.guestCounter.WithLabelValues(in.p.name, name).Add(delta)
	stack[0] = 0
}

// hostMetricGaugeSet sets trellis_plugin_guest_gauge{plugin,name}.
func hostMetricGaugeSet(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	name, errv, ok := in.metricName(mod, stack)
	if !ok {
		stack[0] = errv
		return
	}
	v := api.DecodeF64(stack[2])
	if math.IsNaN(v) {
		stack[0] = in.errno(abi.ErrnoInvalid, "gauge %s: NaN", name)
		return
	}
	in.p.host.metrics.guestGauge.WithLabelValues(in.p.name, name).Set(v)
	stack[0] = 0
}
