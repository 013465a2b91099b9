package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
)

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Trellis node",
		Long: `Run a Trellis node. With no flags it starts a one-node cluster with HTTP on
127.0.0.1:8080, raft on 127.0.0.1:7000 and data in ./data.

Configuration comes from built-in defaults, then --config FILE, then TRELLIS_*
environment variables (TRELLIS_HTTP_ADDR for http.addr), then flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.Environ())
			if err != nil {
				return err
			}
			return serve(cfg)
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}

func newLogger(cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// serve runs the node until SIGINT or SIGTERM, then drains HTTP, stops
// modules and closes raft and Badger cleanly; a clean stop exits 0.
func serve(cfg *config.Config) error {
	logger := newLogger(cfg)
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	n := node.New(cfg, logger)
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
