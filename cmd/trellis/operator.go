package main

// trellis operator raft: Consul's `consul operator raft` against the
// operator module's Consul API (/v1/operator/raft/*; modules/operator/README.md).

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// raftServer is Consul's api.RaftServer.
type raftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	ProtocolVersion string
	Voter           bool
	LastIndex       uint64
}

// raftConfiguration is Consul's api.RaftConfiguration.
type raftConfiguration struct {
	Servers []raftServer
	Index   uint64
}

func operatorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Cluster operations through Consul's operator API (needs a session: see `trellis login`)",
	}
	opts := addClientFlags(cmd)
	raftCmd := &cobra.Command{
		Use:   "raft",
		Short: "Inspect and change the raft configuration, as `consul operator raft` does",
		Long: `Inspect and change the raft configuration through Consul's operator raft API,
which every node serves. Server IDs are Trellis node ids. Listing needs a viewer
session; removing peers and moving leadership need an operator one. Consul's
single-dash flags (-id, -address, -stale, -token) work too.`,
	}
	raftCmd.AddCommand(raftListPeersCmd(opts), raftRemovePeerCmd(opts), raftTransferLeaderCmd(opts))
	cmd.AddCommand(raftCmd)
	return cmd
}

func raftListPeersCmd(opts *clientOptions) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "list-peers [--stale]",
		Short: "Display the current raft peer configuration",
		Long: `Display the servers of the raft configuration as the leader sees it: name, id,
raft address, state, whether it votes, raft protocol, the last log index it holds
and how far it trails the leader. --stale lets the node asked answer from its own
state, even without a leader (it then knows only its own commit index).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			path := "/v1/operator/raft/configuration"
			if stale {
				path += "?stale"
			}
			var conf raftConfiguration
			if err := c.do(cmd.Context(), http.MethodGet, path, nil, &conf); err != nil {
				return fmt.Errorf("list peers: %w", err)
			}
			return printRaftPeers(cmd.OutOrStdout(), conf)
		},
	}
	cmd.Flags().BoolVar(&stale, "stale", false, "let any node answer from its own state, even without a leader")
	return cmd
}

// printRaftPeers writes the table `consul operator raft list-peers`
// prints, with the same columns.
func printRaftPeers(w io.Writer, conf raftConfiguration) error {
	var leaderIndex uint64
	hasLeader := false
	for _, s := range conf.Servers {
		if s.Leader {
			leaderIndex, hasLeader = s.LastIndex, true
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Node\tID\tAddress\tState\tVoter\tRaftProtocol\tCommit Index\tTrails Leader By")
	for _, s := range conf.Servers {
		state, trails := "follower", "-"
		switch {
		case s.Leader:
			state = "leader"
		case hasLeader:
			behind := uint64(0)
			if leaderIndex > s.LastIndex {
				behind = leaderIndex - s.LastIndex
			}
			trails = fmt.Sprintf("%d commits", behind)
			if behind == 1 {
				trails = "1 commit"
			}
		}
		proto := s.ProtocolVersion
		if proto == "" {
			proto = "<=1"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%d\t%s\n", s.Node, s.ID, s.Address, state, s.Voter, proto, s.LastIndex, trails)
	}
	return tw.Flush()
}

func raftRemovePeerCmd(opts *clientOptions) *cobra.Command {
	var id, address string
	cmd := &cobra.Command{
		Use:   "remove-peer --id ID | --address IP:PORT",
		Short: "Remove a server from the raft configuration",
		Long: `Remove the server with the given id or raft address from the raft configuration.
Removing the leader hands leadership to another voter first; the last voter
cannot be removed. The removed node keeps running but takes no part in the cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case id == "" && address == "":
				return fmt.Errorf("an address or id is required for the peer to remove (--id or --address)")
			case id != "" && address != "":
				return fmt.Errorf("cannot give both an address and id")
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			q, what := url.Values{"id": {id}}, fmt.Sprintf("id %q", id)
			if address != "" {
				q, what = url.Values{"address": {address}}, fmt.Sprintf("address %q", address)
			}
			if err := c.do(cmd.Context(), http.MethodDelete, "/v1/operator/raft/peer?"+q.Encode(), nil, nil); err != nil {
				return fmt.Errorf("remove peer with %s: %w", what, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed peer with %s\n", what)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&id, "id", "", "the `ID` (node id) of the server to remove")
	fs.StringVar(&address, "address", "", "the raft address (`IP:PORT`) of the server to remove")
	return cmd
}

func raftTransferLeaderCmd(opts *clientOptions) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "transfer-leader [--id ID]",
		Short: "Transfer raft leadership to another server",
		Long: `Transfer raft leadership to the server with the given id, or without --id to the
most caught-up other voter, and return once the new leader has taken over.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			path := "/v1/operator/raft/transfer-leader"
			if id != "" {
				path += "?" + url.Values{"id": {id}}.Encode()
			}
			var ans struct{ Success bool }
			if err := c.do(cmd.Context(), http.MethodPost, path, nil, &ans); err != nil {
				return fmt.Errorf("transfer leadership: %w", err)
			}
			if !ans.Success {
				return fmt.Errorf("transfer leadership: the node answered without success")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Success")
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "the `ID` (node id) of the server to hand leadership to")
	return cmd
}

// consulFlags are the `consul operator raft` flags Consul users type with
// one dash; pflag would read "-id" as "-i -d".
var consulFlags = []string{"id", "address", "stale", "token"}

// consulStyleArgs rewrites Consul's single-dash flags (-id 2, -address=a)
// to double-dash ones in the arguments of `operator raft` commands, and
// leaves every other command's arguments alone.
func consulStyleArgs(args []string) []string {
	if len(args) < 2 || args[0] != "operator" || args[1] != "raft" {
		return args
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		for _, f := range consulFlags {
			if name == f {
				out[i] = "-" + a
			}
		}
	}
	return out
}
