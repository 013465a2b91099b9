// Package server is a Trellis node's HTTP front: the chi root router with
// the middleware every request passes through, the core routes that are
// always on (health, metrics), TLS, and a graceful stop that drains
// in-flight requests and tells long-lived streams to end.
//
// Modules mount their routes on Router(); errors produced here (404, 405,
// 413, 500) are written in the format of the API family that owns the path
// (see httpx.FamilyFor), so every family's clients can parse them.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/time/rate"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/metrics"
)

// Defaults for zero Options fields.
const (
	// DefaultShutdownTimeout bounds how long Shutdown waits for in-flight
	// requests before closing their connections.
	DefaultShutdownTimeout = 15 * time.Second
	// readHeaderTimeout stops slow-loris clients; it is not configurable
	// because no legitimate client needs longer to send its headers.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes keep-alive connections nobody uses.
	idleTimeout = 2 * time.Minute
)

// Options configure a Server. Zero values pick sensible defaults.
type Options struct {
	// Addr is the host:port to listen on; port 0 picks a free port (tests).
	Addr string
	// TLSCertFile and TLSKeyFile, when both set, serve HTTPS (TLS 1.2+).
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile, when set, verifies client certificates that are
	// presented against this CA.
	TLSClientCAFile string
	// MaxBodyBytes limits request bodies; 0 means httpx.DefaultMaxBodyBytes
	// and a negative value means no limit.
	MaxBodyBytes int64
	// BodyLimits overrides MaxBodyBytes for single routes, keyed by
	// "METHOD /exact/path" (for instance "POST /api/plugins", which takes
	// raw WebAssembly modules); a negative value means no limit.
	BodyLimits map[string]int64
	// ReadTimeout bounds reading a whole request; 0 means none.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; 0 means none, which is the
	// right choice while watch streams are served on the same port.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds the graceful part of Shutdown; 0 means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Logger receives access and error logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics is the node's registry; nil means a private one.
	Metrics *metrics.Registry
	// Health answers the health routes; nil means always healthy.
	Health HealthSource
	// MetricsGuard, when set, wraps /metrics (the node requires a session
	// with read permission there, like every route but health and login).
	MetricsGuard func(http.Handler) http.Handler
	// Listener, when set, is used instead of binding Addr: the node binds
	// its ports before anything else so a port in use fails start-up first.
	Listener net.Listener
	// RateLimit is the requests per second this node serves before it
	// answers 429 (health routes exempt); 0 or less means no limit.
	RateLimit float64
	// RateBurst is how many requests may arrive at once above RateLimit;
	// less than 1 means 1.
	RateBurst int
	// Middleware runs for every request, after the rate limit and before
	// routing reaches any route's own middleware (so it sees every route,
	// auth's included, and the final status). The root router's chain is
	// fixed once New returns, hence this option: the node passes the audit
	// log here.
	Middleware []func(http.Handler) http.Handler
}

// Server is a node's HTTP server. Build it with New, mount module routes on
// Router, then Start; stop it with Shutdown.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics.Registry
	health  HealthSource
	mux     *chi.Mux
	limiter *rate.Limiter // nil: no rate limit

	// draining is closed when Shutdown begins; request contexts carry it
	// (httpx.Draining) through BaseContext.
	draining  chan struct{}
	drainOnce sync.Once
	// baseCtx is the parent of every request context; it is cancelled only
	// once the graceful drain is over, so in-flight requests are not cut
	// short by the start of a shutdown.
	baseCtx    context.Context
	baseCancel context.CancelFunc

	mu        sync.Mutex
	ln        net.Listener
	srv       *http.Server
	serveDone chan struct{}
	serveErr  error
	stopped   bool
}

// New builds a Server and its root router with the core routes mounted.
// Nothing listens until Start.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = httpx.DefaultMaxBodyBytes
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger.With("module", "http"),
		metrics:  opts.Metrics,
		health:   opts.Health,
		limiter:  newLimiter(opts.RateLimit, opts.RateBurst),
		draining: make(chan struct{}),
	}
	if s.health == nil {
		s.health = alwaysHealthy{}
	}
	s.baseCtx, s.baseCancel = context.WithCancel(httpx.WithDraining(context.Background(), s.draining))
	s.mux = s.newRouter()
	return s
}

// Start binds the listener and serves in a goroutine. Binding is
// synchronous so a port in use is reported here, as an error naming the
// address, rather than lost in a goroutine.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.stopped {
		return errors.New("http: server already started or shut down")
	}
	tlsConf, err := loadTLS(s.opts.TLSCertFile, s.opts.TLSKeyFile, s.opts.TLSClientCAFile)
	if err != nil {
		return err
	}
	ln := s.opts.Listener
	if ln == nil {
		if ln, err = Listen(s.opts.Addr); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           s.mux,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          newErrorLog(s.log),
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
	}
	// Shutdown runs these at its start: streams learn they must end while
	// the server still waits for them.
	srv.RegisterOnShutdown(s.beginDrain)
	s.ln, s.srv, s.serveDone = ln, srv, make(chan struct{})

	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme)
	go s.serve(srv, ln, tlsConf != nil)
	return nil
}

// serve runs the http.Server until it is shut down; an unexpected end is
// logged and reported by Shutdown.
func (s *Server) serve(srv *http.Server, ln net.Listener, useTLS bool) {
	defer close(s.serveDone)
	var err error
	if useTLS {
		// Certificates come from TLSConfig; ServeTLS also enables HTTP/2.
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("serve stopped", "addr", ln.Addr().String(), "err", err)
		s.mu.Lock()
		s.serveErr = fmt.Errorf("http: serve %s: %w", ln.Addr(), err)
		s.mu.Unlock()
	}
}

// Addr returns the bound address once started (with the real port when
// Options.Addr asked for port 0), else the configured address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.opts.Addr
}

// URL returns the base URL clients use, http:// or https:// plus Addr.
func (s *Server) URL() string {
	if s.opts.TLSCertFile != "" && s.opts.TLSKeyFile != "" {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Draining returns a channel closed when Shutdown begins. Handlers reach
// the same channel through httpx.Draining(r.Context()).
func (s *Server) Draining() <-chan struct{} { return s.draining }

func (s *Server) beginDrain() { s.drainOnce.Do(func() { close(s.draining) }) }

// Shutdown stops accepting connections, tells streams to end (Draining),
// and waits for in-flight requests until ctx ends or ShutdownTimeout
// passes, whichever is first. Connections still open then are closed and
// the error wraps context.DeadlineExceeded (or ctx's error). Calling it
// again, or before Start, returns nil at once; a Server is not restarted.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done, already := s.srv, s.serveDone, s.stopped
	s.stopped = true
	s.mu.Unlock()
	s.beginDrain()
	if srv == nil || already {
		s.baseCancel()
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	err := srv.Shutdown(ctx)
	if err != nil {
		s.log.Warn("graceful shutdown incomplete; closing open connections",
			"err", err, "waited", time.Since(start))
		_ = srv.Close()
		err = fmt.Errorf("http: shutdown: %w", err)
	}
	// Handlers still running after a forced close see their context end.
	s.baseCancel()
	<-done
	s.log.Info("stopped", "drain", time.Since(start))

	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.serveErr)
}

// listenCause strips net.Listen's "listen tcp ADDR: bind:" wrapping so the
// error reads "http: listen ADDR: address already in use" while still
// matching errors.Is(err, syscall.EADDRINUSE).
func listenCause(err error) error {
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		return sysErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err
	}
	return err
}

// alwaysHealthy stands in for a missing HealthSource.
type alwaysHealthy struct{}

func (alwaysHealthy) Ready(context.Context) error         { return nil }
func (alwaysHealthy) NodeHealth(context.Context) error    { return nil }
func (alwaysHealthy) ClusterHealth(context.Context) error { return nil }

var _ HealthSource = alwaysHealthy{}

// Listen binds addr for a Server, with the error wording Start uses.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: listen %s: %w", addr, listenCause(err))
	}
	return ln, nil
}
