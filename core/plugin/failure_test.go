package plugin_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
)

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTrapReplacesInstance(t *testing.T) {
	h, _ := testHost(t)
	p := load(t, h, "probe", plugin.Manifest{MaxInstances: 1})
	ctx := ctxT(t)
	for i, tc := range []struct {
		cmd   string
		words string
	}{
		{"trap", "out of bounds memory access"},
		{"exit", "exited with code 3"},
	} {
		_, err := p.Validate(ctx, []byte("probe"), payloads(3, func(j int) string {
			if j == 1 {
				return tc.cmd
			}
			return "valid"
		}))
		if !errors.Is(err, plugin.ErrTrap) || !strings.Contains(err.Error(), tc.words) {
			t.Fatalf("%s: %v", tc.cmd, err)
		}
		if st := p.Stats(); st.Discarded != int64(i+1) {
			t.Fatalf("%s: %+v", tc.cmd, st)
		}
		// The next call runs on a fresh instance.
		expect(t, probe1(t, p, "config x"), "err ")
	}
	// A Go panic in plugin code is recovered by the SDK: an undecided
	// verdict, and the instance lives on.
	res, err := p.Validate(ctx, []byte("probe"), payloads(1, func(int) string { return "panic" }))
	if err != nil || res[0].Outcome != plugin.Undecided || !strings.Contains(res[0].Message, "probe panic") {
		t.Fatalf("panic: %v %v", res, err)
	}
	if st := p.Stats(); st.Discarded != 2 {
		t.Fatalf("a recovered panic discarded the instance: %+v", st)
	}
}

func TestTimeoutLeavesOthersAlone(t *testing.T) {
	h, _ := testHost(t)
	looper := load(t, h, "probe", plugin.Manifest{CallTimeout: 300 * time.Millisecond, MaxInstances: 2})
	other := load(t, h, "json", plugin.Manifest{})
	ctx := ctxT(t)

	var wg sync.WaitGroup
	var otherErr error
	otherCalls := 0
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := other.Validate(ctx, []byte(personSchema), payloads(10, func(int) string { return `{"name":"a","age":1}` }))
			if err != nil || !res[9].OK() {
				otherErr = err
				return
			}
			otherCalls++
		}
	}()

	start := time.Now()
	_, err := looper.Validate(ctx, []byte("probe"), payloads(1, func(int) string { return "loop" }))
	took := time.Since(start)
	if !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("endless loop: %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("the timeout took %s", took)
	}
	// The instance was discarded; the plugin still answers.
	expect(t, probe1(t, looper, "config x"), "err ")
	close(stop)
	wg.Wait()
	if otherErr != nil || otherCalls == 0 {
		t.Fatalf("the other plugin during the loop: %d calls, %v", otherCalls, otherErr)
	}
	if st := looper.Stats(); st.Discarded != 1 {
		t.Fatalf("stats: %+v", st)
	}

	// While a plugin loops, the Go runtime can still stop the world: the
	// loop ticks into Go, so a collection does not wait for the deadline.
	slow := load(t, h, "probe", plugin.Manifest{CallTimeout: 3 * time.Second})
	looping := make(chan error, 1)
	go func() {
		_, err := slow.Validate(ctx, []byte("probe"), payloads(1, func(int) string { return "loop" }))
		looping <- err
	}()
	time.Sleep(200 * time.Millisecond)
	gcStart := time.Now()
	runtime.GC()
	if d := time.Since(gcStart); d > time.Second {
		t.Fatalf("a garbage collection waited %s for a looping plugin", d)
	}
	if err := <-looping; !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("slow loop: %v", err)
	}

	// A loop that never calls anything, in hand-written WebAssembly.
	raw, err := h.Load(ctx, "rawloop", wasmgen.Plugin(wasmgen.Desc("rawloop", "validator", 1), "validate").Bytes(),
		plugin.Manifest{CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if _, err := raw.Validate(ctx, []byte("{}"), payloads(1, func(int) string { return "x" })); !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("raw loop: %v", err)
	}

	// The caller's own deadline stops a call too, and says so.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := looper.Validate(short, []byte("probe"), payloads(1, func(int) string { return "loop" })); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller deadline: %v", err)
	}
}

func TestMemoryLimits(t *testing.T) {
	h, _ := testHost(t)
	ctx := ctxT(t)
	p := load(t, h, "probe", plugin.Manifest{MemoryPages: 1024, MemoryHighWaterPages: 512, MaxInstances: 1})

	// Past the high-water mark (32 MiB): the call succeeds, then the
	// instance is replaced.
	expect(t, probe1(t, p, "alloc 40"), "ok allocated 40 MiB")
	waitFor(t, "the replacement", func() bool { return p.Stats().Discarded == 1 && p.Stats().Idle == 1 })

	// Past the hard limit (64 MiB): the Go runtime cannot grow its heap
	// and exits; the instance is discarded, the host carries on.
	_, err := p.Validate(ctx, []byte("probe"), payloads(1, func(int) string { return "alloc 200" }))
	if !errors.Is(err, plugin.ErrTrap) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("memory bomb: %v", err)
	}
	expect(t, probe1(t, p, "alloc 1"), "ok allocated 1 MiB")
	if st := p.Stats(); st.Discarded != 2 {
		t.Fatalf("stats: %+v", st)
	}

	// A response over max_output_bytes is refused, and the instance with it.
	small := load(t, h, "probe", plugin.Manifest{MaxOutputBytes: 64 << 10})
	_, err = small.Validate(ctx, []byte("probe"), payloads(1, func(int) string { return "big 100000" }))
	if !errors.Is(err, plugin.ErrProtocol) || !strings.Contains(err.Error(), "max_output_bytes") {
		t.Fatalf("huge output: %v", err)
	}
}
