package main

// trellis member: the core membership routes (/raft/members, /raft/join,
// /raft/members/{id}), which take an admin session or the cluster's join
// token (raft.join_token) in X-Trellis-Join-Token.

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

const (
	envJoinToken    = "TRELLIS_JOIN_TOKEN"
	joinTokenHeader = "X-Trellis-Join-Token"
)

// memberRecord is a member as /raft/members shows it.
type memberRecord struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name"`
	PeerAddr string `json:"peer_addr"`
	HTTPAddr string `json:"http_addr"`
	Learner  bool   `json:"learner"`
}

type membersAnswer struct {
	Leader  uint64         `json:"leader"`
	Members []memberRecord `json:"members"`
}

// memberOptions are the client flags plus --join-token.
type memberOptions struct {
	*clientOptions
	joinToken string
}

// client is the API client that also sends the join token, when there is
// one (--join-token, else $TRELLIS_JOIN_TOKEN).
func (o *memberOptions) client() (*apiClient, error) {
	c, err := o.clientOptions.client()
	if err != nil {
		return nil, err
	}
	if tok := firstNonEmpty(o.joinToken, os.Getenv(envJoinToken)); tok != "" {
		base := c.http.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c.http.Transport = headerTransport{base: base, name: joinTokenHeader, value: tok}
	}
	return c, nil
}

// headerTransport adds one header to every request.
type headerTransport struct {
	base        http.RoundTripper
	name, value string
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(t.name, t.value)
	return t.base.RoundTrip(req)
}

func memberCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "List, add and remove cluster members (needs an admin session or the join token)",
		Long: `List, add and remove the members of the cluster through any node. Every
subcommand needs an admin session (` + "`trellis login`" + `, --token) or the cluster's
join token (raft.join_token) in --join-token or $` + envJoinToken + `.`,
	}
	opts := &memberOptions{clientOptions: addClientFlags(cmd)}
	cmd.PersistentFlags().StringVar(&opts.joinToken, "join-token", "",
		"the cluster's join `TOKEN` (raft.join_token; default: $"+envJoinToken+")")
	cmd.AddCommand(memberListCmd(opts), memberAddCmd(opts), memberRemoveCmd(opts))
	return cmd
}

func memberListCmd(opts *memberOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the members, their addresses and roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			var ans membersAnswer
			if err := c.do(cmd.Context(), http.MethodGet, "/raft/members", nil, &ans); err != nil {
				return fmt.Errorf("list members: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPEER ADDR\tHTTP ADDR\tROLE")
			for _, m := range ans.Members {
				role := "follower"
				switch {
				case m.Learner:
					role = "learner"
				case m.ID == ans.Leader:
					role = "leader"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", m.ID, dash(m.Name), m.PeerAddr, dash(m.HTTPAddr), role)
			}
			return tw.Flush()
		},
	}
}

func memberAddCmd(opts *memberOptions) *cobra.Command {
	var (
		id                       uint64
		name, peerAddr, httpAddr string
	)
	cmd := &cobra.Command{
		Use:   "add --id ID --peer-addr HOST:PORT [--name NAME] [--http-addr HOST:PORT]",
		Short: "Add a member (as a learner, promoted to voter once it has caught up)",
		Long: `Add a member to the cluster. It joins as a learner and becomes a voter once its
log has caught up, so a new node never weakens the quorum. Start the node itself
with the same id and raft address (serve --node-id ID --raft-addr HOST:PORT --join
ANY-MEMBER); adding the same id and address again is harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == 0 {
				return fmt.Errorf("--id: want a positive node id")
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			req := map[string]any{"id": id, "name": name, "peer_addr": peerAddr, "http_addr": httpAddr}
			var ans membersAnswer
			if err := c.do(cmd.Context(), http.MethodPost, "/raft/join", req, &ans); err != nil {
				return fmt.Errorf("add member %d: %w", id, err)
			}
			role := "a learner"
			for _, m := range ans.Members {
				if m.ID == id && !m.Learner {
					role = "a voter"
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added member %d at %s as %s (%d members)\n", id, peerAddr, role, len(ans.Members))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.Uint64Var(&id, "id", 0, "the new member's node `ID`")
	fs.StringVar(&peerAddr, "peer-addr", "", "the new member's raft address, `HOST:PORT`")
	fs.StringVar(&name, "name", "", "the new member's `NAME` (default: node-ID once it announces itself)")
	fs.StringVar(&httpAddr, "http-addr", "", "the new member's HTTP address, `HOST:PORT` (it announces it itself once running)")
	_ = cmd.MarkFlagRequired("id")
	_ = cmd.MarkFlagRequired("peer-addr")
	return cmd
}

func memberRemoveCmd(opts *memberOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member (the leader hands leadership over first; the last voter stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return fmt.Errorf("member id %q: want a positive integer", args[0])
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodDelete, "/raft/members/"+strconv.FormatUint(id, 10), nil, nil); err != nil {
				return fmt.Errorf("remove member %d: %w", id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed member %d\n", id)
			return nil
		},
	}
}
