package plugin_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
)

func TestRegistrySwapFinishesInFlight(t *testing.T) {
	h, _ := testHost(t)
	ctx := ctxT(t)
	reg := plugin.NewRegistry()
	defer reg.Close(ctx)
	v1 := load(t, h, "json", plugin.Manifest{})
	reg.Put(v1)

	// A caller holds v1 across the swap.
	held, release, err := reg.Acquire("json")
	if err != nil || held != v1 {
		t.Fatalf("acquire: %v", err)
	}
	v2 := load(t, h, "json", plugin.Manifest{})
	if old := reg.Put(v2); old != v1 {
		t.Fatal("Put did not return the old version")
	}
	if reg.Get("json") != v2 {
		t.Fatal("registry still serves v1")
	}
	// The held version still serves its caller...
	if _, err := held.Validate(ctx, []byte(personSchema), payloads(2, func(int) string { return "{}" })); err != nil {
		t.Fatalf("call on the retired version: %v", err)
	}
	select {
	case <-v1.Done():
		t.Fatal("v1 closed while held")
	default:
	}
	// ...and closes after it lets go.
	release()
	select {
	case <-v1.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("v1 did not close after its last caller")
	}
	if _, err := v1.Validate(ctx, []byte(personSchema), nil); !errors.Is(err, plugin.ErrClosed) {
		t.Fatalf("call on closed v1: %v", err)
	}
	if _, _, err := reg.Acquire("nope"); !errors.Is(err, plugin.ErrNotFound) {
		t.Fatalf("acquire unknown: %v", err)
	}
	if !reg.Remove("json") || reg.Get("json") != nil || len(reg.List()) != 0 {
		t.Fatal("remove")
	}
	select {
	case <-v2.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("removed v2 did not close")
	}
}

// Calls through the registry keep succeeding while versions are swapped
// under them.
func TestRegistrySwapUnderLoad(t *testing.T) {
	h, _ := testHost(t)
	ctx := ctxT(t)
	reg := plugin.NewRegistry()
	defer reg.Close(ctx)
	raw := wasmgen.Plugin(wasmgen.Desc("raw", "validator", 1), "").Bytes()
	loadRaw := func() *plugin.Plugin {
		p, err := h.Load(ctx, "raw", raw, plugin.Manifest{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	reg.Put(loadRaw())
	var calls, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, release, err := reg.Acquire("raw")
				if err == nil {
					_, err = p.Validate(ctx, []byte("{}"), payloads(10, func(int) string { return "x" }))
					release()
				}
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					t.Error(err)
				}
			}
		}()
	}
	var olds []*plugin.Plugin
	for i := 0; i < 10; i++ {
		time.Sleep(20 * time.Millisecond)
		olds = append(olds, reg.Put(loadRaw()))
	}
	close(stop)
	wg.Wait()
	for _, old := range olds {
		select {
		case <-old.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a swapped-out version never closed")
		}
	}
	if failures.Load() != 0 || calls.Load() == 0 {
		t.Fatalf("%d calls, %d failed", calls.Load(), failures.Load())
	}
}
