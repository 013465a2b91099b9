package main

// trellis schema: the schema module's RobustMQ routes
// (/api/cluster/schema*, modules/schema/README.md).

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

type schemaRow struct {
	Tenant  string `json:"tenant"`
	Name    string `json:"name"`
	Type    string `json:"schema_type"`
	Desc    string `json:"desc"`
	Schema  string `json:"schema"`
	Message string `json:"message,omitempty"`
}

type schemaBindRow struct {
	DataType string   `json:"data_type"`
	Data     []string `json:"data"`
	Tenant   string   `json:"tenant"`
	Name     string   `json:"name"`
}

type schemaVerdict struct {
	Valid  bool `json:"valid"`
	Errors []struct {
		Schema    string `json:"schema_name"`
		Type      string `json:"schema_type"`
		Resource  string `json:"resource_name"`
		Message   string `json:"error"`
		Undecided bool   `json:"undecided"`
	} `json:"errors"`
	Checked []string `json:"checked"`
}

type robustPage[T any] struct {
	Data       []T `json:"data"`
	TotalCount int `json:"total_count"`
}

// errInvalidPayload makes `schema validate` exit non-zero on an invalid
// payload, after printing why.
var errInvalidPayload = errors.New("payload is not valid")

func schemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Create, list, delete, bind and test schemas (the schema module)",
		Long: `Manage the schemas payloads published to topics are held to, per tenant. A schema's type
names a validator plugin (json, avro, protobuf, or one dropped in); a binding ties it to a
topic or an MQTT topic filter. Listing and validating need a viewer session, changes an
operator one: run ` + "`trellis login`" + ` first, or pass --token.`,
	}
	opts := addClientFlags(cmd)
	cmd.PersistentFlags().String("tenant", "default", "tenant the schema belongs to")
	cmd.AddCommand(schemaCreateCmd(opts), schemaListCmd(opts), schemaDeleteCmd(opts),
		schemaBindCmd(opts, true), schemaBindCmd(opts, false), schemaValidateCmd(opts))
	return cmd
}

func tenantFlag(cmd *cobra.Command) string {
	t, _ := cmd.Flags().GetString("tenant")
	return t
}

// textOrFile is inline text, or the contents of file when set.
func textOrFile(inline []string, file string) (string, error) {
	switch {
	case file != "" && len(inline) > 0:
		return "", errors.New("give the text or --file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		return string(b), err
	case len(inline) == 1:
		return inline[0], nil
	}
	return "", errors.New("give the text as an argument or with --file")
}

func schemaCreateCmd(opts *clientOptions) *cobra.Command {
	var typ, file, desc, message string
	cmd := &cobra.Command{
		Use:   "create NAME [SCHEMA] --type TYPE [--file FILE]",
		Short: "Create a schema (it must compile in its validator)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := textOrFile(args[1:], file)
			if err != nil {
				return err
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			body := map[string]string{"tenant": tenantFlag(cmd), "schema_name": args[0], "schema_type": typ,
				"schema": text, "desc": desc}
			if message != "" {
				body["message"] = message
			}
			if err := c.do(cmd.Context(), http.MethodPost, "/api/cluster/schema/create", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s schema %s in tenant %s\n", typ, args[0], tenantFlag(cmd))
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "schema type: a validator plugin (json, avro, protobuf, ...)")
	cmd.Flags().StringVar(&file, "file", "", "read the schema from FILE")
	cmd.Flags().StringVar(&desc, "desc", "", "description")
	cmd.Flags().StringVar(&message, "message", "", "protobuf: the message payloads are encoded as (default: the first)")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

func schemaListCmd(opts *clientOptions) *cobra.Command {
	var name string
	var bindings, asJSON, allTenants bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List schemas, or with --bindings what they are bound to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"10000"}, "sort_field": {"name"}, "sort_by": {"asc"}}
			if !allTenants {
				q.Set("tenant", tenantFlag(cmd))
			}
			out := cmd.OutOrStdout()
			if bindings {
				if name != "" {
					q.Set("schema_name", name)
				}
				var ans robustAnswer[robustPage[schemaBindRow]]
				if err := c.do(cmd.Context(), http.MethodGet, "/api/cluster/schema-bind/list?"+q.Encode(), nil, &ans); err != nil {
					return err
				}
				if asJSON {
					return printJSON(out, ans.Data.Data)
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TENANT\tSCHEMA\tRESOURCES")
				for _, r := range ans.Data.Data {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Tenant, r.Name, strings.Join(r.Data, " "))
				}
				return tw.Flush()
			}
			if name != "" {
				q.Set("name", name)
			}
			var ans robustAnswer[robustPage[schemaRow]]
			if err := c.do(cmd.Context(), http.MethodGet, "/api/cluster/schema/list?"+q.Encode(), nil, &ans); err != nil {
				return err
			}
			if asJSON {
				return printJSON(out, ans.Data.Data)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tNAME\tTYPE\tSIZE\tDESCRIPTION")
			for _, r := range ans.Data.Data {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Tenant, r.Name, r.Type, utf8.RuneCountInString(r.Schema), r.Desc)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only schemas whose name contains this (with --bindings: exactly this schema)")
	cmd.Flags().BoolVar(&bindings, "bindings", false, "list bindings instead of schemas")
	cmd.Flags().BoolVar(&allTenants, "all-tenants", false, "every tenant, not only --tenant")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rows as JSON")
	return cmd
}

func schemaDeleteCmd(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a schema (unbind it first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			body := map[string]string{"tenant": tenantFlag(cmd), "schema_name": args[0]}
			if err := c.do(cmd.Context(), http.MethodPost, "/api/cluster/schema/delete", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted schema %s\n", args[0])
			return nil
		},
	}
}

func schemaBindCmd(opts *clientOptions, add bool) *cobra.Command {
	use, short, path, done := "bind", "Bind a schema to a topic or an MQTT topic filter", "create", "bound"
	if !add {
		use, short, path, done = "unbind", "Remove a binding", "delete", "unbound"
	}
	return &cobra.Command{
		Use:   use + " SCHEMA TOPIC_OR_FILTER",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			body := map[string]string{"tenant": tenantFlag(cmd), "schema_name": args[0], "resource_name": args[1]}
			if err := c.do(cmd.Context(), http.MethodPost, "/api/cluster/schema-bind/"+path, body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s to %s\n", done, args[0], args[1])
			return nil
		},
	}
}

func schemaValidateCmd(opts *clientOptions) *cobra.Command {
	var schema, topic, file string
	cmd := &cobra.Command{
		Use:   "validate (--schema NAME | --topic TOPIC) [PAYLOAD | --file FILE]",
		Short: "Check a payload against a schema, or against every schema bound to a topic",
		Long: `Check a payload against one schema, or against every schema bound to a topic (directly or
through a filter), as a publish would be. Prints "valid" or why not, and exits 1 when the
payload is not valid. Binary payloads (Avro, Protobuf) go in with --file.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (schema == "") == (topic == "") {
				return errors.New("give exactly one of --schema and --topic")
			}
			payload, err := textOrFile(args, file)
			if err != nil {
				return err
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			body := map[string]string{"tenant": tenantFlag(cmd)}
			if schema != "" {
				body["schema_name"] = schema
			} else {
				body["topic_name"] = topic
			}
			if utf8.ValidString(payload) {
				body["payload"] = payload
			} else {
				body["payload_base64"] = base64.StdEncoding.EncodeToString([]byte(payload))
			}
			var ans robustAnswer[schemaVerdict]
			if err := c.do(cmd.Context(), http.MethodPost, "/api/cluster/schema/validate", body, &ans); err != nil {
				return err
			}
			v, out := ans.Data, cmd.OutOrStdout()
			if v.Valid {
				fmt.Fprintf(out, "valid (checked: %s)\n", strings.Join(v.Checked, ", "))
				return nil
			}
			for _, e := range v.Errors {
				kind := "invalid"
				if e.Undecided {
					kind = "not checked"
				}
				fmt.Fprintf(out, "%s: %s (%s): %s\n", kind, e.Schema, e.Type, e.Message)
			}
			cmd.SilenceUsage = true
			return errInvalidPayload
		},
	}
	cmd.Flags().StringVar(&schema, "schema", "", "the schema to check against")
	cmd.Flags().StringVar(&topic, "topic", "", "check against every schema bound to this topic")
	cmd.Flags().StringVar(&file, "file", "", "read the payload from FILE")
	return cmd
}
