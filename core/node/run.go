package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trellis-cp/trellis/config"
)

// NewLogger builds the process logger from log.level and log.format.
func NewLogger(cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Run is `trellis serve`: it runs a node until SIGINT or SIGTERM, then
// drains HTTP, stops modules and closes raft and Badger cleanly. It returns
// nil after a clean stop, so the process exits 0.
func Run(cfg *config.Config) error {
	logger := NewLogger(cfg)
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	n := New(cfg, logger)
	if err := n.Start(ctx); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", "signal")
	case <-n.Done():
		runErr = fmt.Errorf("raft stopped: %w", n.Err())
		logger.Error("shutting down", "reason", runErr)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout+10*time.Second)
	defer cancel()
	if err := n.Stop(stopCtx); err != nil {
		logger.Error("shutdown", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	if runErr == nil {
		logger.Info("stopped cleanly")
	}
	return runErr
}
