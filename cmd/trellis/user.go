package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// userRecord is a user as /api/auth/users shows it.
type userRecord struct {
	Name               string     `json:"name"`
	Roles              []string   `json:"roles"`
	Tenant             string     `json:"tenant"`
	Superuser          bool       `json:"superuser"`
	MustChangePassword bool       `json:"must_change_password"`
	LockedUntil        *time.Time `json:"locked_until"`
	CreatedAt          time.Time  `json:"created_at"`
}

func userPath(name string) string { return "/api/auth/users/" + url.PathEscape(name) }

func userCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage users (needs an admin session: see `trellis login`)",
		Long: `Manage the cluster's users. Roles: admin (everything, including users),
operator (read, write and cluster operations), viewer (read only).
Every subcommand needs an admin session: run ` + "`trellis login`" + ` first, or pass --token.`,
	}
	opts := addClientFlags(cmd)
	cmd.AddCommand(userCreateCmd(opts), userDeleteCmd(opts), userPasswdCmd(opts),
		userListCmd(opts), userGrantCmd(opts), userUnlockCmd(opts))
	return cmd
}

// passwordFor returns --password, else one line of standard input.
func passwordFor(name, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	pw, err := readSecret("Password for " + name + ": ")
	if err != nil {
		return "", fmt.Errorf("no password: pass --password or one line on standard input (%v)", err)
	}
	return pw, nil
}

func userCreateCmd(opts *clientOptions) *cobra.Command {
	var (
		roles     []string
		password  string
		tenant    string
		superuser bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE[,ROLE] [--password PASSWORD]",
		Short: "Create a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := opts.client()
			if err != nil {
				return err
			}
			if password, err = passwordFor(name, password); err != nil {
				return err
			}
			req := map[string]any{"name": name, "password": password, "roles": roles}
			if tenant != "" {
				req["tenant"] = tenant
			}
			if superuser {
				req["superuser"] = true
			}
			var u userRecord
			if err := c.do(cmd.Context(), http.MethodPost, "/api/auth/users", req, &u); err != nil {
				return fmt.Errorf("create user %s: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s (roles: %s)\n", u.Name, strings.Join(u.Roles, ","))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&roles, "role", nil, "`ROLE`s: admin, operator or viewer (repeat or separate with commas)")
	fs.StringVar(&password, "password", "", "`PASSWORD`, at least 8 characters (default: one line of standard input)")
	fs.StringVar(&tenant, "tenant", "", "`TENANT` the user belongs to")
	fs.BoolVar(&superuser, "superuser", false, "make the user a superuser (every permission)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func userDeleteCmd(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodDelete, userPath(args[0]), nil, nil); err != nil {
				return fmt.Errorf("delete user %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", args[0])
			return nil
		},
	}
}

func userPasswdCmd(opts *clientOptions) *cobra.Command {
	var password string
	cmd := &cobra.Command{
		Use:   "passwd NAME [--password PASSWORD]",
		Short: "Set a user's password (no old password needed; clears a forced change)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := opts.client()
			if err != nil {
				return err
			}
			if password, err = passwordFor(name, password); err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodPut, userPath(name)+"/password", map[string]string{"password": password}, nil); err != nil {
				return fmt.Errorf("set password of %s: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set the password of %s\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&password, "password", "", "new `PASSWORD`, at least 8 characters (default: one line of standard input)")
	return cmd
}

func userListCmd(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			var ans struct {
				Users []userRecord `json:"users"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/api/auth/users", nil, &ans); err != nil {
				return fmt.Errorf("list users: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tTENANT\tSUPERUSER\tSTATUS\tCREATED")
			for _, u := range ans.Users {
				status := "ok"
				switch {
				case u.LockedUntil != nil:
					status = "locked until " + u.LockedUntil.Local().Format(time.RFC3339)
				case u.MustChangePassword:
					status = "must change password"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\n", u.Name, strings.Join(u.Roles, ","), dash(u.Tenant),
					u.Superuser, status, u.CreatedAt.Local().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func userGrantCmd(opts *clientOptions) *cobra.Command {
	var roles []string
	cmd := &cobra.Command{
		Use:   "grant NAME --role ROLE[,ROLE]",
		Short: "Set a user's roles (they replace the old ones)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := opts.client()
			if err != nil {
				return err
			}
			var u userRecord
			if err := c.do(cmd.Context(), http.MethodPut, userPath(name)+"/roles", map[string]any{"roles": roles}, &u); err != nil {
				return fmt.Errorf("set roles of %s: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s now has roles %s\n", u.Name, strings.Join(u.Roles, ","))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&roles, "role", nil, "`ROLE`s: admin, operator or viewer (repeat or separate with commas)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func userUnlockCmd(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock NAME",
		Short: "Lift a lockout after too many failed logins",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodPost, userPath(args[0])+"/unlock", nil, nil); err != nil {
				return fmt.Errorf("unlock %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s\n", args[0])
			return nil
		},
	}
}
