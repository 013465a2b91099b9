// Command loadkv is the KV-over-HTTP load driver behind `make bench`.
//
// It starts local Trellis clusters (1 and 3 nodes by default) as real
// `trellis serve` processes on loopback with temporary data directories,
// logs in, and drives the KV module's HTTP API (PUT /api/kv/v3/put, and
// GET /api/kv/v3/get, a linearizable read) from many concurrent keep-alive
// clients spread over every node, for a fixed window after a warm-up. When
// etcd is on PATH (Debian's etcd-server: `make bench-deps`) it starts etcd
// clusters of the same sizes the same way and applies the same load through
// etcd's HTTP JSON gateway (POST /v3/kv/put, POST /v3/kv/range), one system
// after the other, then prints the ratio Trellis/etcd and the p99s side by
// side.
//
//	go run ./test/loadkv -rounds 3 -json loadkv.json
//
// Besides throughput and latency, each row shows the CPUs the cluster and
// the driver kept busy (they share the machine), throughput per node
// CPU-second, the nodes' log fsyncs (from their /metrics) and resident
// memory. "other CPUs" is what else kept the machine busy: a row where it
// is high was disturbed. With -rounds N everything runs N times and each
// row is the round with the median throughput; each Trellis/etcd ratio is
// the median of the rounds' own ratios, since the two systems run one after
// the other within a round (etcd first in even rounds) and the machine's
// speed moves more between rounds than within one. make bench runs three
// rounds.
//
// The table goes to stdout, progress to stderr. Every process it starts is
// stopped before it exits, also on Ctrl-C (children run in their own
// process group and die with the driver if it is killed).
//
// With -cpuprofile DIR the Trellis nodes are this binary re-executed as a
// node (node.Run, the code `trellis serve` runs, with every module), each
// writing a CPU profile of its whole life to DIR; the driver's own profile
// goes there too. Production code has no profiling endpoint.
//
// With -trace DIR the nodes run the same way and each writes a runtime
// trace (runtime/trace) of two seconds in the middle of every measured
// window: DIR/trellis-<size>n-node<id>-r<round>-<k>.trace, k counting the
// operations of -ops from 1. `go tool trace -pprof=sched FILE` shows where
// goroutines waited to run, the Ready loop's among them. Nodes in this mode
// keep the runtime's GOMAXPROCS unless it is set in the environment, while
// `trellis serve` adds two Ps; set GOMAXPROCS (CPUs + 2) to match it.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/consul/sdk/freeport"

	"github.com/trellis-cp/trellis/internal/testutil"
	"github.com/trellis-cp/trellis/test/internal/loadstat"
)

// options are the command-line flags.
type options struct {
	Duration  time.Duration `json:"-"`
	Warmup    time.Duration `json:"-"`
	Clients   int           `json:"clients"`
	ValueSize int           `json:"value_size"`
	Keys      int           `json:"keys"`
	Nodes     []int         `json:"nodes"`
	Ops       []string      `json:"ops"`
	Systems   []string      `json:"systems"`
	Rounds    int           `json:"rounds"`

	jsonPath   string
	bin        string
	etcd       string
	cpuProfile string
	traceDir   string
	dir        string
}

// allOps are the measured operations, in the order they run.
var allOps = []string{"put", "get"}

func parseFlags() (options, error) {
	var o options
	var nodes, ops, systems string
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per operation and cluster")
	flag.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured load before each window")
	flag.IntVar(&o.Clients, "clients", 64, "concurrent HTTP clients, spread over all nodes")
	flag.IntVar(&o.ValueSize, "value-size", 256, "bytes per value")
	flag.IntVar(&o.Keys, "keys", 10000, "distinct keys; all are written before the first window")
	flag.StringVar(&nodes, "nodes", "1,3", "comma-separated cluster sizes")
	flag.StringVar(&ops, "ops", strings.Join(allOps, ","), "comma-separated operations: put (write), get (linearizable read)")
	flag.StringVar(&systems, "systems", "trellis,etcd,floor", "comma-separated systems to measure: trellis, etcd (etcd only when -etcd finds one), floor (Go HTTP servers that store nothing: the most this driver and machine allow)")
	flag.IntVar(&o.Rounds, "rounds", 1, "run everything this many times and report, per row, the round with the median ops/s, and per comparison the median of the rounds' ratios")
	flag.StringVar(&o.jsonPath, "json", "", "also write the figures as JSON to this file")
	flag.StringVar(&o.bin, "bin", "", "trellis binary to run (default: go build ./cmd/trellis into the temporary directory)")
	flag.StringVar(&o.etcd, "etcd", "auto", "etcd binary for the comparison: auto (etcd on PATH, skipped when absent), off, or a path")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU profiles of every Trellis node and of the driver into this `DIR` (nodes then run as this binary)")
	flag.StringVar(&o.traceDir, "trace", "", "write a runtime trace of every Trellis node, two seconds in the middle of each operation's window, into this `DIR` (nodes then run as this binary)")
	flag.StringVar(&o.dir, "dir", "", "parent of the temporary directory (default: the system temp dir)")
	flag.Parse()
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Clients <= 0 || o.ValueSize < 0 || o.Keys <= 0 || o.Rounds <= 0 {
		return o, errors.New("-duration, -clients, -keys and -rounds must be positive, -warmup and -value-size not negative")
	}
	for _, f := range strings.Split(nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 9 {
			return o, fmt.Errorf("-nodes: bad cluster size %q (1..9)", f)
		}
		o.Nodes = append(o.Nodes, n)
	}
	for _, op := range strings.Split(ops, ",") {
		op = strings.TrimSpace(op)
		if !slices.Contains(allOps, op) {
			return o, fmt.Errorf("-ops: unknown operation %q (want put or get)", op)
		}
		o.Ops = append(o.Ops, op)
	}
	for _, s := range strings.Split(systems, ",") {
		s = strings.TrimSpace(s)
		if s != "trellis" && s != "etcd" && s != "floor" {
			return o, fmt.Errorf("-systems: unknown system %q (want trellis, etcd or floor)", s)
		}
		o.Systems = append(o.Systems, s)
	}
	if !slices.Contains(o.Systems, "etcd") {
		o.etcd = "off"
	}
	return o, nil
}

func main() {
	if addr := os.Getenv(envFloorMode); addr != "" {
		os.Exit(runFloor(addr))
	}
	if os.Getenv(envNodeMode) == "1" {
		os.Exit(runNode(os.Args[1:]))
	}
	if err := run(); err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "loadkv:", err)
		os.Exit(1)
	}
}

// measured is one system of a round: its name (and data directory
// prefix), how errors name it, and how to start it in a directory.
type measured struct {
	name, what string
	start      func(sysDir string) (system, error)
}

func run() (err error) {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp(o.dir, "trellis-loadkv-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if o.cpuProfile != "" {
		if o.cpuProfile, err = outputDir(o.cpuProfile); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(o.cpuProfile, "driver.pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if o.traceDir != "" {
		if o.traceDir, err = outputDir(o.traceDir); err != nil {
			return err
		}
	}

	runTrellis := slices.Contains(o.Systems, "trellis")
	var trellisCmd command
	if runTrellis {
		if trellisCmd, err = trellisCommand(ctx, o, dir); err != nil {
			return err
		}
	}
	etcdBin, err := findEtcd(o.etcd)
	if err != nil {
		return err
	}
	if etcdBin == "" && o.etcd == "auto" {
		progress("etcd is not on PATH: Trellis only (`make bench-deps` installs Debian's etcd-server)")
	}

	// Other work on the machine skews every figure: say so up front.
	h0 := hostCPU()
	loadstat.SleepUntil(ctx, time.Now().Add(time.Second))
	idleBusy := hostCPU().busySince(h0)
	if idleBusy > 0.15 {
		progress("warning: the machine was %.0f%% busy before the run started; other work skews these figures", 100*idleBusy)
	}

	value := randomValue(o.ValueSize)
	rep := report{
		BusyBefore: idleBusy,
		Started:    time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Duration: o.Duration.String(), Warmup: o.Warmup.String(), Load: o,
	}
	// Sizes are interleaved (Trellis n, etcd n, Trellis m, ...) so that
	// drift on the machine hits both systems alike, and even rounds run
	// etcd first: a machine that slows down (or speeds up) within a round
	// then favours neither system over the rounds.
	var all []row
	for round := 1; round <= o.Rounds; round++ {
		if o.Rounds > 1 {
			progress("round %d of %d", round, o.Rounds)
		}
		for _, size := range o.Nodes {
			name := fmt.Sprintf("%d-r%d", size, round)
			var runs []measured
			if runTrellis {
				runs = append(runs, measured{"trellis", fmt.Sprintf("trellis, %s", plural(size, "node")), func(sysDir string) (system, error) {
					return startTrellis(ctx, trellisCmd, sysDir, size, nodeOutputs{o.cpuProfile, o.traceDir}, round)
				}})
			}
			if etcdBin != "" {
				runs = append(runs, measured{"etcd", fmt.Sprintf("etcd, %s", plural(size, "member")), func(sysDir string) (system, error) {
					return startEtcd(ctx, etcdBin, sysDir, size)
				}})
			}
			if round%2 == 0 {
				slices.Reverse(runs)
			}
			if slices.Contains(o.Systems, "floor") {
				runs = append(runs, measured{"floor", fmt.Sprintf("http floor, %s", plural(size, "server")), func(sysDir string) (system, error) {
					return startFloor(ctx, sysDir, size)
				}})
			}
			for _, m := range runs {
				sysDir := filepath.Join(dir, m.name+"-"+name)
				rows, err := benchSystem(ctx, o, value, sysDir, func() (system, error) { return m.start(sysDir) })
				if err != nil {
					return fmt.Errorf("%s: %w", m.what, err)
				}
				all = append(all, withRound(rows, round)...)
				if m.name == "etcd" && rep.EtcdVersion == "" {
					rep.EtcdVersion = etcdVersion(etcdBin)
				}
			}
		}
	}
	rep.Results = medianRows(all)
	if o.Rounds > 1 {
		rep.AllRounds = all
	}
	rep.Comparisons = compare(rep.Results, all)

	fmt.Printf("KV over HTTP: %d keep-alive clients spread over all nodes, %d-byte values over %d keys, %s per operation after %s warm-up; %d CPUs (%.0f%% busy before the run)\n",
		o.Clients, o.ValueSize, o.Keys, o.Duration, o.Warmup, runtime.NumCPU(), 100*idleBusy)
	if o.Rounds > 1 {
		fmt.Printf("%d rounds; each row is the round with the median ops/s, each ratio the median of the rounds' own\n", o.Rounds)
	}
	if rep.EtcdVersion != "" {
		fmt.Printf("etcd %s through its HTTP JSON gateway\n", rep.EtcdVersion)
	}
	fmt.Println()
	printTable(os.Stdout, rep.Results)
	if len(rep.Comparisons) > 0 {
		fmt.Println()
		printComparisons(os.Stdout, rep.Comparisons)
	}
	if o.cpuProfile != "" {
		fmt.Printf("\nCPU profiles in %s (go tool pprof -top %s/trellis-%dn-node1-r1.pprof)\n", o.cpuProfile, o.cpuProfile, o.Nodes[len(o.Nodes)-1])
	}
	if o.traceDir != "" {
		fmt.Printf("\nRuntime traces in %s (go tool trace -pprof=sched %s/trellis-%dn-node1-r1-1.trace)\n", o.traceDir, o.traceDir, o.Nodes[len(o.Nodes)-1])
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			return err
		}
	}
	return nil
}

// system is a running cluster under test: Trellis or etcd.
type system interface {
	// Name is "trellis" or "etcd".
	Name() string
	// Size is the number of nodes.
	Size() int
	// Endpoints are the base URLs of every node, in node order.
	Endpoints() []string
	// NewRequest builds one request of op ("put" or "get") for key, to
	// the node at endpoint ep.
	NewRequest(op, ep, key string, value []byte) (request, error)
	// Check reports whether a 2xx answer body is what op expects.
	Check(op string, body []byte) error
	// RSS is the resident memory of every node in MiB, now and at peak.
	RSS() (now, peak []float64)
	// CPU is the CPU time every node has used so far, summed.
	CPU() time.Duration
	// Storage reads every node's metrics: log fsyncs and the time they
	// took, summed over nodes, and the highest revision.
	Storage(ctx context.Context) storageStats
	// Stop ends every process, bounded in time.
	Stop() error
}

// benchSystem starts a cluster, writes every key, measures each operation
// and stops the cluster again, also on error.
//
// The system keeps its files under dataDir, which is removed once it has
// stopped: the next system should not share the disk with the write-back of
// this one's data (a put phase leaves hundreds of MB dirty in the page
// cache, which the kernel writes out about 30 s later, in the middle of the
// next window). Files removed before write-back are never written, and what
// is left is flushed before the next system starts.
func benchSystem(ctx context.Context, o options, value []byte, dataDir string, start func() (system, error)) (rows []row, err error) {
	quietDisk()
	t0 := time.Now()
	sys, err := start()
	if err != nil {
		return nil, err
	}
	defer func() {
		progress("stopping %s", sys.Name())
		if serr := sys.Stop(); serr != nil && err == nil {
			err = serr
		}
		if rerr := os.RemoveAll(dataDir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	progress("%s: %s up after %s", sys.Name(), plural(sys.Size(), "node"), time.Since(t0).Round(time.Millisecond))
	idle, _ := sys.RSS()

	client := newLoadClient(o.Clients)
	keys := keyNames(o.Keys)
	progress("%s: writing %d keys", sys.Name(), len(keys))
	if err := preload(ctx, sys, client, o.Clients, keys, value); err != nil {
		return nil, fmt.Errorf("preload: %w", err)
	}
	// The start-up's own writes go out too before anything is measured: a
	// Trellis node writes its plugins' compiled code (about 110 MB) on a
	// first start, which the kernel would write back some 30 s later, in
	// the middle of the windows.
	quietDisk()
	for _, op := range o.Ops {
		progress("%s, %s: %s for %s (+%s warm-up)", sys.Name(), plural(sys.Size(), "node"), op, o.Duration, o.Warmup)
		r, err := runPhase(ctx, sys, client, o, op, keys, value)
		if err != nil {
			return nil, err
		}
		for msg, n := range r.ErrSamples {
			progress("  %d x %s", n, msg)
		}
		_, peak := sys.RSS()
		rows = append(rows, newRow(sys.Name(), sys.Size(), op, o.Clients, r, maxOf(idle), maxOf(peak)))
	}
	return rows, nil
}

// quietDisk flushes the machine's dirty pages (sync(2) waits for them), so
// that a system starts, and is measured, on a disk no earlier write-back
// is using.
func quietDisk() {
	t0 := time.Now()
	syscall.Sync()
	if d := time.Since(t0); d > time.Second {
		progress("flushing earlier writes took %s", d.Round(time.Millisecond))
	}
}

// do sends one request and reads the whole answer (so the connection goes
// back to the pool), returning the body of a 2xx answer.
func do(client *http.Client, req *http.Request, buf []byte) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return buf, err
	}
	defer resp.Body.Close()
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, err
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.Join(strings.Fields(string(buf)), " ")
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return buf, fmt.Errorf("%d %s", resp.StatusCode, msg)
	}
	return buf, nil
}

// outputDir makes dir (for profiles or traces) and returns its absolute
// path, which the nodes, running elsewhere, are handed.
func outputDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return abs, os.MkdirAll(abs, 0o755)
}

// keyNames are the keys the load spreads over: /loadkv/00000 ... .
func keyNames(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("/loadkv/%05d", i)
	}
	return keys
}

// randomValue is n random letters and digits: the same bytes are valid in
// a JSON string (Trellis) and in base64 (etcd) without escaping.
func randomValue(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return b
}

// preload writes every key once, from clients workers, so that reads find
// their keys and puts overwrite.
func preload(ctx context.Context, sys system, client *loadClient, workers int, keys []string, value []byte) error {
	eps := sys.Endpoints()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := client.worker()
			defer wk.release()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					var req request
					req, err = sys.NewRequest("put", eps[w%len(eps)], keys[i], value)
					if err != nil {
						break
					}
					if _, err = wk.do(req); err == nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if err != nil {
					errc <- fmt.Errorf("put %s: %w", keys[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}

// phaseResult is what one operation measured inside its window.
type phaseResult struct {
	loadstat.Samples
	Elapsed time.Duration
	// NodeCPU is the CPUs the cluster's processes kept busy in the
	// window (1.0 = one CPU all the time); HostBusy the share of all the
	// machine's CPUs that were busy (driver included).
	NodeCPU   float64
	DriverCPU float64
	HostBusy  float64
	// Storage is the change in the nodes' storage counters over the
	// window (zero where a scrape failed).
	Storage storageStats
}

// storageStats are storage counters scraped from the nodes' /metrics.
type storageStats struct {
	Fsyncs       float64
	FsyncSeconds float64
	Revision     float64
	ok           bool
}

func (s storageStats) since(s0 storageStats) storageStats {
	if !s.ok || !s0.ok {
		return storageStats{}
	}
	return storageStats{Fsyncs: s.Fsyncs - s0.Fsyncs, FsyncSeconds: s.FsyncSeconds - s0.FsyncSeconds, Revision: s.Revision - s0.Revision, ok: true}
}

// scrapeStorage reads the named counters from every endpoint's /metrics
// (Prometheus text format, unlabelled series only).
func scrapeStorage(ctx context.Context, eps []string, auth, fsyncs, fsyncSeconds, revision string) storageStats {
	hc := &http.Client{Timeout: 5 * time.Second}
	st := storageStats{ok: true}
	for _, ep := range eps {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
		if err != nil {
			return storageStats{}
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		raw, err := do(hc, req, nil)
		if err != nil {
			return storageStats{}
		}
		for _, line := range strings.Split(string(raw), "\n") {
			name, val, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil {
				continue
			}
			switch name {
			case fsyncs:
				st.Fsyncs += v
			case fsyncSeconds:
				st.FsyncSeconds += v
			case revision:
				st.Revision = max(st.Revision, v)
			}
		}
	}
	return st
}

// selfCPU is the CPU time this process has used (0 if it cannot be read).
func selfCPU() time.Duration {
	d, _ := testutil.ProcessCPU()
	return d
}

// cpuTicks is the aggregate line of /proc/stat.
type cpuTicks struct{ busy, total uint64 }

func hostCPU() cpuTicks {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTicks{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var t cpuTicks
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t
}

func (t cpuTicks) busySince(t0 cpuTicks) float64 {
	if t.total <= t0.total {
		return 0
	}
	return float64(t.busy-t0.busy) / float64(t.total-t0.total)
}

// runPhase drives o.Clients workers, worker i talking to node i mod size,
// each sending op back to back on uniformly random keys: a closed loop.
// Requests completing during the warm-up are discarded; those completing
// inside the following window are counted and timed (errors apart).
func runPhase(ctx context.Context, sys system, client *loadClient, o options, op string, keys []string, value []byte) (*phaseResult, error) {
	start := time.Now()
	winStart := start.Add(o.Warmup)
	winEnd := winStart.Add(o.Duration)
	eps := sys.Endpoints()

	var stop atomic.Bool
	var wg sync.WaitGroup
	results := make([]loadstat.Tally, o.Clients)
	for w := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			res.Lat = make([]time.Duration, 0, 8192)
			ep := eps[w%len(eps)]
			seed := uint64(start.UnixNano()) ^ uint64(w)*0x9e3779b97f4a7c15
			wk := client.worker()
			defer wk.release()
			for !stop.Load() && ctx.Err() == nil {
				seed = seed*6364136223846793005 + 1442695040888963407
				key := keys[(seed>>33)%uint64(len(keys))]
				t0 := time.Now()
				req, err := sys.NewRequest(op, ep, key, value)
				var body []byte
				if err == nil {
					body, err = wk.do(req)
				}
				if err == nil {
					err = sys.Check(op, body)
				}
				t1 := time.Now()
				if t1.Before(winStart) || !t1.Before(winEnd) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					res.Fail(err)
					continue
				}
				res.Lat = append(res.Lat, t1.Sub(t0))
			}
		}()
	}
	loadstat.SleepUntil(ctx, winStart)
	if t, ok := sys.(tracer); ok && o.traceDir != "" {
		// Two seconds in the middle of the window, or its start.
		at := max(0, (o.Duration-traceSpan)/2)
		trace := time.AfterFunc(at, t.Trace)
		defer trace.Stop()
	}
	st0 := sys.Storage(ctx)
	cpu0, self0, host0 := sys.CPU(), selfCPU(), hostCPU()
	loadstat.SleepUntil(ctx, winEnd)
	cpu1, self1, host1 := sys.CPU(), selfCPU(), hostCPU()
	st1 := sys.Storage(ctx)
	stop.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &phaseResult{Samples: loadstat.Merge(results), Elapsed: o.Duration,
		NodeCPU:   (cpu1 - cpu0).Seconds() / o.Duration.Seconds(),
		DriverCPU: (self1 - self0).Seconds() / o.Duration.Seconds(),
		HostBusy:  host1.busySince(host0),
		Storage:   st1.since(st0)}
	return r, nil
}

// progress reports what the driver is doing on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadkv: "+format+"\n", args...)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// freePorts returns n distinct loopback ports for the nodes to listen on,
// from consul's freeport: a block below the kernel's ephemeral range, so
// neither the driver's own outgoing connections (hundreds per run) nor
// another program can take a port between now and the node binding it, as
// they could one found by listening on :0. A run needs a few dozen ports
// of the block; they are not handed back.
func freePorts(n int) ([]int, error) {
	ports, err := freeport.Take(n)
	if err != nil {
		return nil, fmt.Errorf("find free ports: %w", err)
	}
	return ports, nil
}

// moduleRoot is the directory of this repository's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run loadkv from inside the trellis module (or pass -bin)")
	}
	return filepath.Dir(gomod), nil
}
