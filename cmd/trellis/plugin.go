package main

// trellis plugin: list, upload and delete the cluster's WebAssembly
// plugins (/api/plugins, RobustMQ envelope), and build one from Go source.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// pluginRow is one row of GET /api/plugins.
type pluginRow struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Version     string `json:"version"`
	SHA256      string `json:"sha256"`
	Source      string `json:"source"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	Description string `json:"description"`
	ABIVersion  int    `json:"abi_version"`
	Size        int    `json:"size"`
}

// robustAnswer is RobustMQ's success envelope.
type robustAnswer[T any] struct {
	Code int `json:"code"`
	Data T   `json:"data"`
}

func pluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "List, upload, delete and build WebAssembly plugins",
		Long: `List the plugins every node serves (shipped in bin/plugins, dropped into plugins.dir,
or uploaded), upload a .wasm module to the whole cluster, delete an uploaded one, or
build a plugin from Go source. Listing needs a viewer session, upload and delete an
admin one: run ` + "`trellis login`" + ` first, or pass --token.`,
	}
	opts := addClientFlags(cmd)
	cmd.AddCommand(pluginListCmd(opts), pluginUploadCmd(opts), pluginDeleteCmd(opts), pluginBuildCmd())
	return cmd
}

func pluginListCmd(opts *clientOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the plugins this node serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			var ans robustAnswer[struct {
				Data       []pluginRow `json:"data"`
				TotalCount int         `json:"total_count"`
			}]
			if err := c.do(cmd.Context(), http.MethodGet, "/api/plugins", nil, &ans); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(ans.Data.Data)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tSOURCE\tSTATUS\tSHA256\tERROR")
			for _, r := range ans.Data.Data {
				sha := r.SHA256
				if len(sha) > 12 {
					sha = sha[:12]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, r.Version, r.Source, r.Status, sha, r.Error)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rows as JSON")
	return cmd
}

func pluginUploadCmd(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "upload FILE",
		Short: "Upload a .wasm plugin to every node of the cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var ans robustAnswer[pluginRow]
			if err := c.doRaw(cmd.Context(), http.MethodPost, "/api/plugins", "application/wasm", wasm, &ans); err != nil {
				return err
			}
			r := ans.Data
			fmt.Fprintf(cmd.OutOrStdout(), "uploaded %s %s (%s, sha256 %s, %s)\n", r.Name, r.Version, r.Kind, r.SHA256, r.Status)
			return nil
		},
	}
}

func pluginDeleteCmd(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an uploaded plugin from every node",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodDelete, "/api/plugins/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
}

func pluginBuildCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build DIR",
		Short: "Build the Go plugin package in DIR to a .wasm module",
		Long: `Build the Go plugin package in DIR with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
The module goes to -o, by default <DIR's name>.wasm in the current directory.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Base(dir) + ".wasm"
			}
			if out, err = filepath.Abs(out); err != nil {
				return err
			}
			goBin, err := exec.LookPath("go")
			if err != nil {
				return errors.New("the go command is not on PATH")
			}
			b := exec.CommandContext(cmd.Context(), goBin, "build", "-buildmode=c-shared", "-o", out, ".")
			b.Dir = dir
			b.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
			b.Stdout, b.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := b.Run(); err != nil {
				return fmt.Errorf("build %s: %w", args[0], err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output `FILE` (default <DIR>.wasm)")
	return cmd
}

// doRaw sends body with contentType and decodes a 2xx answer into out.
func (c *apiClient) doRaw(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := *c.http
	hc.Timeout = 3 * clientTimeout // an upload loads the module twice
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", c.endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", c.endpoint, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unexpected answer from %s%s: %w", c.endpoint, path, err)
	}
	return nil
}
