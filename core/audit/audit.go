// Package audit records every mutating HTTP request (POST, PUT, PATCH,
// DELETE) a node serves: who made it, what route and path, its parameters
// with secrets masked, the status, how long it took and which node answered.
//
// Entries live in the replicated store (namespace core.audit), so every node
// reads the same log. A request never waits for raft: the middleware hands
// its entry to a buffered channel, and one flusher per node writes what has
// gathered as one store key every FlushInterval or BatchSize entries. When
// the buffer is full an entry is dropped and counted rather than slowing
// the request down. The raft leader prunes the oldest entries beyond
// MaxEntries or older than Retention, whole batches where it can.
//
// A batch's key names its node, its newest and oldest entry and how many
// it holds (see batchKey), so the store's key order is the order of the
// batches' newest entries, two nodes never write the same key, and the
// pruner decides from keys alone. List reads the batches and sorts their
// entries by time.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/core/store"
)

// Namespace is the store namespace that holds the audit log.
const Namespace = "core.audit"

// Defaults for zero Options fields.
const (
	DefaultMaxEntries    = 10000
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultBatchSize     = 256
	DefaultBufferSize    = 4096
	// DefaultPruneInterval is short so a busy cluster trims the log in
	// small steps: at 10,000 audited writes a second, a 10 s interval
	// deleted 100,000 entries in one burst of transactions that writes
	// queued behind (test/kv BenchmarkV3Put, 250,000 puts: requests over
	// 50 ms 1,431 with 10 s, 990 with 1 s).
	DefaultPruneInterval = time.Second
	// writeTimeout bounds one batch transaction (and the final flush).
	writeTimeout = 5 * time.Second
	// writeAttempts is how often the flusher tries one batch while the
	// cluster is unavailable, retryDelay the pause between tries.
	writeAttempts = 3
	retryDelay    = 200 * time.Millisecond
	// maxBatchBytes cuts a flush into batches well under the state
	// store's value threshold, so every batch lives in Badger's tree:
	// pruning it is reclaimed by compaction, never left as value-log
	// garbage for a defragment to chase (batches of ~100 KB in the value
	// log made one in six defragments after a mass delete free nothing).
	// An entry bigger than this on its own (long params) is a batch of one.
	maxBatchBytes = storage.StateValueThreshold / 2
	// idSpan is how many entries one batch may hold; an entry's id is
	// revision*idSpan + its index in the batch.
	idSpan = 1000
)

// Options configure a Log. Zero values pick the defaults above.
type Options struct {
	// NodeID names the node in keys and entries.
	NodeID uint64
	// MaxEntries bounds the log; the leader deletes the oldest beyond it.
	MaxEntries int
	// Retention is how long entries are kept; 0 keeps them until
	// MaxEntries pushes them out.
	Retention time.Duration
	// Identify names the caller of a request before it is served, usually
	// from its session token (see SessionIdentity). Nil, or "", falls back
	// to the principal in the request context, then to the username of a
	// login attempt, then to "anonymous".
	Identify func(*http.Request) string
	// Logger receives flush errors and drop reports; nil is slog.Default().
	Logger *slog.Logger
	// Metrics, when set, gets the log's counters.
	Metrics prometheus.Registerer

	FlushInterval time.Duration
	BatchSize     int
	BufferSize    int
	PruneInterval time.Duration
}

// Log is a node's audit log: the middleware that records, the flusher that
// writes, the pruner that bounds, and List that reads.
type Log struct {
	ns   *store.Namespace
	opts Options
	log  *slog.Logger

	entries chan *Entry
	lastNs  atomic.Int64 // newest timestamp handed out, to keep keys unique
	// writeHook, when set (tests only), runs before each batch write and
	// fails it with what it returns.
	writeHook func() error

	dropped  atomic.Uint64
	reported uint64 // drops already logged; flusher goroutine only
	written  atomic.Uint64
	failed   atomic.Uint64
	pruned   atomic.Uint64

	// ctx ends when Close begins, cutting a prune short; the final flush
	// has a deadline of its own.
	ctx      context.Context
	cancel   context.CancelFunc
	stopc    chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// New builds a Log on ns (the node's core.audit namespace) and starts its
// flusher and pruner. Close stops them.
func New(ns *store.Namespace, opts Options) *Log {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	opts.BatchSize = min(opts.BatchSize, idSpan)
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = DefaultPruneInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Log{
		ns:      ns,
		opts:    opts,
		log:     opts.Logger.With("module", "audit"),
		entries: make(chan *Entry, opts.BufferSize),
		stopc:   make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if opts.Metrics != nil {
		l.registerMetrics(opts.Metrics)
	}
	l.wg.Add(2)
	go l.flushLoop()
	go l.pruneLoop()
	return l
}

// Record queues e for writing without blocking: with the buffer full the
// entry is dropped and counted. It fills in the node id and, when they are
// zero, the time and the derived fields.
func (l *Log) Record(e Entry) {
	if e.NodeID == 0 {
		e.NodeID = l.opts.NodeID
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = time.Unix(0, l.uniqueNanos(e.Time.UnixNano())).UTC()
	e.Timestamp = e.Time.Unix()
	if e.Result == "" && e.Status != 0 {
		e.Result = resultText(e.Status)
	}
	select {
	case <-l.stopc:
		l.dropped.Add(1)
		return
	default:
	}
	select {
	case l.entries <- &e:
	default:
		l.dropped.Add(1)
	}
}

// uniqueNanos returns t, or the smallest time after every one handed out
// before, so two entries of this node never share a key.
func (l *Log) uniqueNanos(t int64) int64 {
	for {
		last := l.lastNs.Load()
		next := max(t, last+1)
		if l.lastNs.CompareAndSwap(last, next) {
			return next
		}
	}
}

// Dropped is how many entries were lost because the buffer was full or
// the log was closed.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Close stops taking entries, writes what is buffered (bounded by ctx and
// a few seconds), and stops the flusher and pruner. Call it after the HTTP
// server has drained and before the store closes.
func (l *Log) Close(ctx context.Context) error {
	l.stopOnce.Do(func() {
		close(l.stopc)
		l.cancel()
	})
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: close: %w", ctx.Err())
	}
}

func (l *Log) registerMetrics(reg prometheus.Registerer) {
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	for _, c := range []prometheus.Collector{
		counter("trellis_audit_entries_written_total", "Audit entries written to the store.", &l.written),
		counter("trellis_audit_entries_dropped_total", "Audit entries dropped because the buffer was full.", &l.dropped),
		counter("trellis_audit_entries_failed_total", "Audit entries lost because the store refused their batch.", &l.failed),
		counter("trellis_audit_entries_pruned_total", "Audit entries deleted by retention (leader only).", &l.pruned),
	} {
		if err := reg.Register(c); err != nil {
			l.log.Warn("register audit metrics", "err", err)
		}
	}
}
