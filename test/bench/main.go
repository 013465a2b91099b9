// Command bench is the store load driver behind `make bench`.
//
// It starts a 1-node and a 3-node cluster in this process (real TCP
// transports on loopback, real Badger directories under a temporary
// directory that is removed at the end) and, on each, measures puts,
// linearizable gets and serializable gets from many concurrent clients
// spread over all nodes (a follower forwards writes to the leader and asks
// it for a ReadIndex on reads). It prints throughput, p50/p99 latency and
// raft log fsyncs per second next to proposals per second: with group
// commit one fsync covers many proposals.
//
//	go run ./test/bench -duration 5s -json bench.json
//
// The table goes to stdout, progress and warnings to stderr.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	load       loadConfig
	nodes      []int
	phases     []string
	jsonPath   string
	cpuProfile string
	dir        string
	auth       bool
}

func parseFlags() (options, error) {
	var o options
	var nodes, phases string
	flag.DurationVar(&o.load.Duration, "duration", 5*time.Second, "measured time per phase")
	flag.DurationVar(&o.load.Warmup, "warmup", time.Second, "unmeasured load before each phase's window")
	flag.IntVar(&o.load.Clients, "clients", 64, "concurrent clients, spread over the nodes")
	flag.IntVar(&o.load.ValueSize, "value-size", 256, "bytes per value")
	flag.IntVar(&o.load.Keys, "keys", 10000, "distinct keys the load spreads over")
	flag.BoolVar(&o.load.LeaderOnly, "leader-only", false, "send every request to the leader instead of spreading clients over all nodes")
	flag.StringVar(&nodes, "nodes", "1,3", "comma-separated cluster sizes to run")
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "comma-separated phases to run, from "+strings.Join(allPhases, ", "))
	flag.StringVar(&o.jsonPath, "json", "", "also write the figures as JSON to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.BoolVar(&o.auth, "auth", true, "also measure logins and session checks")
	flag.StringVar(&o.dir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	flag.Parse()
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	if o.load.Duration <= 0 || o.load.Warmup < 0 || o.load.Clients <= 0 || o.load.ValueSize < 0 || o.load.Keys <= 0 {
		return o, errors.New("-duration, -clients and -keys must be positive, -warmup and -value-size not negative")
	}
	for _, f := range strings.Split(nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-nodes: bad cluster size %q", f)
		}
		o.nodes = append(o.nodes, n)
	}
	for _, p := range strings.Split(phases, ",") {
		p = strings.TrimSpace(p)
		if phaseOp(p, nil) == nil {
			return o, fmt.Errorf("-phases: unknown phase %q", p)
		}
		o.phases = append(o.phases, p)
	}
	return o, nil
}

func main() {
	if err := run(); err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	dir, err := os.MkdirTemp(o.dir, "trellis-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	value := make([]byte, o.load.ValueSize)
	rand.Read(value)
	keys := keyNames(o.load.Keys)

	rep := report{
		Started: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Duration: o.load.Duration.String(), Warmup: o.load.Warmup.String(), Load: o.load,
	}
	for i, size := range o.nodes {
		rows, err := benchCluster(ctx, filepath.Join(dir, fmt.Sprintf("run%d-%dnode", i+1, size)), size, o, keys, value, logger)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, rows...)
	}

	target := "spread over all nodes"
	if o.load.LeaderOnly {
		target = "all on the leader"
	}
	fmt.Printf("store benchmark: %d clients %s, %d-byte values over %d keys, %s per phase after %s warm-up, GOMAXPROCS %d\n\n",
		o.load.Clients, target, o.load.ValueSize, o.load.Keys, o.load.Duration, o.load.Warmup, runtime.GOMAXPROCS(0))
	printTable(os.Stdout, rep.Results)
	fmt.Println("\nfsyncs/s sums the raft log fsyncs of all nodes; props/fsync = puts x nodes / fsyncs (>1: group commit).")
	if o.auth {
		progress("sessions: logins and warm token checks")
		ar, err := benchAuth(ctx, authDir(dir), o.load.Duration, logger)
		if err != nil {
			return fmt.Errorf("session benchmark: %w", err)
		}
		rep.Auth = ar
		fmt.Println()
		printAuth(os.Stdout, ar)
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			return err
		}
	}
	return nil
}

// benchCluster starts a cluster of size nodes in dir, runs every phase on it
// and shuts it down again, removing dir.
func benchCluster(ctx context.Context, dir string, size int, o options, keys []string, value []byte, logger *slog.Logger) (rows []row, err error) {
	progress("starting a %d-node cluster", size)
	t0 := time.Now()
	defer os.RemoveAll(dir)
	c, err := startCluster(ctx, dir, size, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := c.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %d-node cluster: %w", size, cerr)
		}
	}()
	progress("leader is node %d after %s; preloading %d keys", c.leader(), time.Since(t0).Round(time.Millisecond), len(keys))
	if err := preload(ctx, c, keys, value); err != nil {
		return nil, err
	}
	for _, p := range o.phases {
		progress("%s: %s for %s (+%s warm-up)", plural(size, "node"), p, o.load.Duration, o.load.Warmup)
		r, err := runPhase(ctx, c, o.load, keys, phaseOp(p, value))
		if err != nil {
			return nil, err
		}
		if r.Errors > 0 {
			for msg, n := range r.ErrSamples {
				progress("  %d x %s", n, msg)
			}
		}
		rows = append(rows, newRow(size, p, o.load.Clients, r))
	}
	return rows, nil
}

// progress reports what the driver is doing on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
