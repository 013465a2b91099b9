package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-cp/trellis/core/auth"
)

const (
	envPassword    = "TRELLIS_PASSWORD"
	envNewPassword = "TRELLIS_NEW_PASSWORD"
)

func init() {
	// GET /api/auth/status reports the binary's version.
	auth.AppVersion = version
}

// loginAnswer is POST /api/auth/login's answer.
type loginAnswer struct {
	Username           string `json:"username"`
	ExpiresAt          int64  `json:"expires_at"`
	SessionToken       string `json:"session_token"`
	MustChangePassword bool   `json:"must_change_password"`
	Authenticated      bool   `json:"authenticated"`
}

func loginCmd() *cobra.Command {
	var (
		endpoint, username, password, newPassword string
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a node and save the session for the other commands",
		Long: `Log in to a node and save the session token in $XDG_CONFIG_HOME/trellis/session.json
(~/.config/trellis/session.json without XDG_CONFIG_HOME), readable only by you.
The token works on every node of the cluster.

The password comes from --password, else $` + envPassword + `, else one line of standard
input (prompted for on a terminal). An account whose first-boot password must be
changed gets its new password from --new-password, $` + envNewPassword + ` or the next
line of standard input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			saved, err := loadSession()
			if err != nil {
				return err
			}
			ep := firstNonEmpty(endpoint, os.Getenv(envEndpoint))
			if ep == "" && saved != nil {
				ep = saved.Endpoint
			}
			if ep, err = normalizeEndpoint(firstNonEmpty(ep, defaultEndpoint)); err != nil {
				return err
			}
			if password == "" {
				password = os.Getenv(envPassword)
			}
			if password == "" {
				if password, err = readSecret("Password for " + username + ": "); err != nil {
					return fmt.Errorf("no password: use --password, $%s or standard input (%v)", envPassword, err)
				}
			}
			c := newAPIClient(ep, "")
			ctx := cmd.Context()
			ans, err := login(ctx, c, username, password)
			if err != nil {
				return err
			}
			if ans.MustChangePassword {
				if newPassword == "" {
					newPassword = os.Getenv(envNewPassword)
				}
				if newPassword == "" {
					if newPassword, err = readSecret("The password of " + username + " must be changed. New password: "); err != nil {
						return fmt.Errorf("the password of %s must be changed before the first login: pass --new-password or $%s", username, envNewPassword)
					}
				}
				err := c.do(ctx, http.MethodPost, "/api/auth/change-password",
					map[string]string{"username": username, "old_password": password, "new_password": newPassword}, nil)
				if err != nil {
					return fmt.Errorf("change password: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "changed the password of %s\n", username)
				if ans, err = login(ctx, c, username, newPassword); err != nil {
					return err
				}
				if ans.MustChangePassword {
					return errors.New("login: the node still asks for a password change")
				}
			}
			path, err := saveSession(savedSession{Endpoint: ep, Token: ans.SessionToken, Username: ans.Username})
			if err != nil {
				return err
			}
			expiry := "never expires"
			if ans.ExpiresAt > 0 {
				expiry = "expires " + time.Unix(ans.ExpiresAt, 0).Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s; session saved in %s (%s)\n", ep, ans.Username, path, expiry)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&endpoint, "endpoint", "", "node `URL` (default: $"+envEndpoint+", else the saved session's, else "+defaultEndpoint+")")
	fs.StringVarP(&username, "username", "u", "admin", "user `NAME`")
	fs.StringVar(&password, "password", "", "`PASSWORD` (default: $"+envPassword+", else standard input)")
	fs.StringVar(&newPassword, "new-password", "", "new `PASSWORD` when the account must change its first-boot password")
	return cmd
}

func login(ctx context.Context, c *apiClient, username, password string) (*loginAnswer, error) {
	var ans loginAnswer
	if err := c.do(ctx, http.MethodPost, "/api/auth/login", map[string]string{"username": username, "password": password}, &ans); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return nil, fmt.Errorf("login as %s: %s", username, ae.Message)
		}
		return nil, fmt.Errorf("login as %s: %w", username, err)
	}
	if !ans.MustChangePassword && ans.SessionToken == "" {
		return nil, fmt.Errorf("login as %s: the node answered without a session", username)
	}
	return &ans, nil
}

func logoutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Close the saved session on the cluster and forget it",
		Args:  cobra.NoArgs,
	}
	opts := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := opts.client()
		if err != nil {
			return err
		}
		if c.token == "" {
			return errors.New("not logged in")
		}
		err = c.do(cmd.Context(), http.MethodPost, "/api/auth/logout", nil, nil)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			err = nil // already closed or expired: nothing left to close
		}
		// Forget the saved session if that is the one just closed.
		if saved, lerr := loadSession(); lerr == nil && saved != nil && saved.Token == c.token {
			if rmErr := removeSession(); rmErr != nil && err == nil {
				err = rmErr
			}
		}
		if err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "logged out of %s\n", c.endpoint)
		return nil
	}
	return cmd
}
