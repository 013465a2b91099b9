package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/trellis-cp/trellis/core/auth"
)

// authResult is the session system's cost: how long a login takes (argon2id
// plus one raft write) and what checking a warm token costs per request.
type authResult struct {
	Logins          int     `json:"logins"`
	LoginP50Ms      float64 `json:"login_p50_ms"`
	LoginP99Ms      float64 `json:"login_p99_ms"`
	CheckNsPerOp    float64 `json:"check_ns_per_op"`
	CheckParallelNs float64 `json:"check_parallel_ns_per_op"`
	CheckOps        int64   `json:"check_ops"`
}

// benchAuth runs on a fresh one-node cluster in dir.
func benchAuth(ctx context.Context, dir string, d time.Duration, logger *slog.Logger) (*authResult, error) {
	c, err := startCluster(ctx, dir, 1, logger)
	if err != nil {
		return nil, err
	}
	defer c.close()
	ns, err := c.stores[0].Namespace(auth.Namespace)
	if err != nil {
		return nil, err
	}
	const password = "bench-admin-password"
	svc := auth.New(auth.Config{Enabled: true, AdminPassword: password, LockoutThreshold: 5, LockoutDuration: time.Minute, DataDir: dir}, ns, logger)
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	defer svc.Stop()

	// Logins, sequential: the latency a user sees.
	var lat []time.Duration
	var token string
	deadline := time.Now().Add(30 * time.Second)
	for len(lat) < 50 {
		t0 := time.Now()
		res, err := svc.Login(ctx, "admin", password, "bench")
		if err != nil {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("login: %w", err)
			}
			time.Sleep(50 * time.Millisecond) // first-boot admin not created yet
			continue
		}
		lat = append(lat, time.Since(t0))
		token = res.Token
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := &authResult{Logins: len(lat), LoginP50Ms: ms(lat[len(lat)/2]), LoginP99Ms: ms(lat[len(lat)*99/100])}

	// Token checks on a warm session, one goroutine then all CPUs.
	if _, err := svc.Authenticate(ctx, token); err != nil {
		return nil, err
	}
	var n int64
	t0 := time.Now()
	for time.Since(t0) < d {
		for i := 0; i < 1000; i++ {
			if _, err := svc.Authenticate(ctx, token); err != nil {
				return nil, err
			}
		}
		n += 1000
	}
	r.CheckNsPerOp = float64(time.Since(t0).Nanoseconds()) / float64(n)
	r.CheckOps = n

	var total atomic.Int64
	var wg sync.WaitGroup
	t0 = time.Now()
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(t0) < d {
				for i := 0; i < 1000; i++ {
					svc.Authenticate(ctx, token)
				}
				total.Add(1000)
			}
		}()
	}
	wg.Wait()
	r.CheckParallelNs = float64(time.Since(t0).Nanoseconds()) / float64(total.Load())
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printAuth(w io.Writer, r *authResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sessions\tlogins\tlogin p50 ms\tlogin p99 ms\tcheck ns/op\tcheck ns/op (all CPUs)\ttarget\t")
	fmt.Fprintf(tw, "1 node\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t< 2000 ns\t\n", r.Logins, r.LoginP50Ms, r.LoginP99Ms, r.CheckNsPerOp, r.CheckParallelNs)
	tw.Flush()
}

// authDir is where the session benchmark keeps its cluster.
func authDir(dir string) string { return filepath.Join(dir, "auth") }
