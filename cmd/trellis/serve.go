package main

import (
	"os"

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
			setServeProcs()
			return node.Run(cfg)
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}
