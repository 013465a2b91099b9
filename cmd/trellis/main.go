// Command trellis is the one Trellis binary: `trellis serve` runs a node,
// the other subcommands are clients of a running node.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "trellis",
		Short:         "Trellis: a clustered control-plane server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), versionCmd(), loginCmd(), logoutCmd(), userCmd(), kvCmd(), snapshotCmd(),
		operatorCmd(), memberCmd(), pluginCmd(), schemaCmd())
	root.SetArgs(consulStyleArgs(os.Args[1:]))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "trellis", version) },
	}
}
