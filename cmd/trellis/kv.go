package main

// trellis kv: get, put, del, ls and watch against the KV module's
// etcdmonitor-shaped API (/api/kv/v3/*, /api/kv/v2/*; modules/kv/README.md).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// kvNode is the module's node shape (etcdmonitor's Node).
type kvNode struct {
	Key           string   `json:"key"`
	Value         string   `json:"value,omitempty"`
	Dir           bool     `json:"dir"`
	TTL           int64    `json:"ttl,omitempty"`
	CreatedIndex  int64    `json:"createdIndex,omitempty"`
	ModifiedIndex int64    `json:"modifiedIndex,omitempty"`
	Version       int64    `json:"version,omitempty"`
	Nodes         []kvNode `json:"nodes,omitempty"`
}

type kvNodeAnswer struct {
	Node kvNode `json:"node"`
}

// kvEvent is the data of one watch stream message, or its last message
// when the stream ends on an error.
type kvEvent struct {
	Type          string `json:"type"`
	Key           string `json:"key"`
	Value         string `json:"value"`
	CreatedIndex  int64  `json:"createdIndex"`
	ModifiedIndex int64  `json:"modifiedIndex"`
	Version       int64  `json:"version"`
	TTL           int64  `json:"ttl,omitempty"`
	Error         string `json:"error,omitempty"`
	Code          string `json:"code,omitempty"`
}

func kvBase(v2 bool) string {
	if v2 {
		return "/api/kv/v2"
	}
	return "/api/kv/v3"
}

func kvCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Read, write and watch keys of the KV module (needs a session: see `trellis login`)",
		Long: `Read, write and watch keys of the KV module (etcdmonitor's KV API) on any node of
the cluster. Keys are v3 keys unless --v2 is given (the v2 API: directories, paths).
Reads need a viewer session, writes an operator one: run ` + "`trellis login`" + ` first, or pass --token.`,
	}
	opts := addClientFlags(cmd)
	cmd.AddCommand(kvGetCmd(opts), kvPutCmd(opts), kvDelCmd(opts), kvLsCmd(opts), kvWatchCmd(opts))
	return cmd
}

func kvGetCmd(opts *clientOptions) *cobra.Command {
	var (
		revision     int64
		serializable bool
		v2, asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "get KEY [--revision N] [--serializable] [--v2]",
		Short: "Print a key's value (a linearizable read unless --serializable)",
		Long: `Print a key's value followed by a newline. The read is linearizable: it sees every
write acknowledged before it started, whichever node answers. --serializable reads
the answering node's local state instead (faster, possibly stale); --revision N
reads the key as it was at revision N. With --v2, a directory prints its children,
one per line (directories end in /). --json prints the node as the API answers it,
with its revisions and TTL.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			c, err := opts.client()
			if err != nil {
				return err
			}
			q := url.Values{"key": {key}}
			if cmd.Flags().Changed("revision") {
				if revision < 1 {
					return fmt.Errorf("--revision: want a revision >= 1, got %d", revision)
				}
				q.Set("revision", strconv.FormatInt(revision, 10))
			}
			if serializable {
				q.Set("serializable", "true")
			}
			var ans kvNodeAnswer
			if err := c.do(cmd.Context(), http.MethodGet, kvBase(v2)+"/get?"+q.Encode(), nil, &ans); err != nil {
				return fmt.Errorf("get %s: %w", key, err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, ans.Node)
			}
			if ans.Node.Dir {
				for _, child := range ans.Node.Nodes {
					fmt.Fprintln(out, treeLabel(child, "/"))
				}
				return nil
			}
			fmt.Fprintln(out, ans.Node.Value)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.Int64Var(&revision, "revision", 0, "read the key as of revision `N`")
	fs.BoolVar(&serializable, "serializable", false, "read the answering node's local state (no quorum round; may be stale)")
	fs.BoolVar(&v2, "v2", false, "use the v2 API")
	fs.BoolVar(&asJSON, "json", false, "print the whole node as JSON (revisions, version, TTL)")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func kvPutCmd(opts *clientOptions) *cobra.Command {
	var (
		ttl         time.Duration
		prevValue   string
		prevVersion int64
		v2, dir     bool
	)
	cmd := &cobra.Command{
		Use:   "put KEY VALUE [--ttl 30s] [--prev-value V | --prev-version N] [--v2]",
		Short: "Write a key",
		Long: `Write VALUE to KEY and print OK with the revision of the write.

--ttl gives the key a time to live in whole seconds; a put without --ttl makes
the key permanent. --prev-value V or --prev-version N make the put a
compare-and-swap: it happens only if the key's current value is V, or its version
(writes since creation) is N; --prev-version 0 means "only if the key does not
exist". A failed comparison writes nothing and exits 1. With --v2 --dir, KEY
becomes a directory and VALUE is left out.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			switch {
			case dir && !v2:
				return errors.New("--dir needs --v2: v3 keys are flat")
			case dir && len(args) == 2:
				return errors.New("a directory has no value: put KEY --v2 --dir")
			case !dir && len(args) != 2:
				return errors.New("want KEY and VALUE")
			}
			req := map[string]any{"key": key}
			if !dir {
				req["value"] = args[1]
			} else {
				req["dir"] = true
			}
			if cmd.Flags().Changed("ttl") {
				if ttl < time.Second || ttl%time.Second != 0 {
					return fmt.Errorf("--ttl: want whole seconds, at least 1s (e.g. 30s, 5m), got %s", ttl)
				}
				req["ttl"] = int64(ttl / time.Second)
			}
			if cmd.Flags().Changed("prev-value") {
				req["prev_value"] = prevValue
			}
			if cmd.Flags().Changed("prev-version") {
				if prevVersion < 0 {
					return fmt.Errorf("--prev-version: want a version >= 0, got %d", prevVersion)
				}
				req["prev_version"] = prevVersion
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			var ans kvNodeAnswer
			if err := c.do(cmd.Context(), http.MethodPut, kvBase(v2)+"/put", req, &ans); err != nil {
				return fmt.Errorf("put %s: %w", key, err)
			}
			if ans.Node.ModifiedIndex > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "OK (revision %d)\n", ans.Node.ModifiedIndex)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "OK")
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&ttl, "ttl", 0, "time to live in whole seconds (e.g. `30s`)")
	fs.StringVar(&prevValue, "prev-value", "", "write only if the current value is `V`")
	fs.Int64Var(&prevVersion, "prev-version", 0, "write only if the current version is `N` (0: only if the key does not exist)")
	fs.BoolVar(&v2, "v2", false, "use the v2 API")
	fs.BoolVar(&dir, "dir", false, "with --v2: make KEY a directory")
	cmd.MarkFlagsMutuallyExclusive("prev-value", "prev-version")
	return cmd
}

func kvDelCmd(opts *clientOptions) *cobra.Command {
	var prefix, dir, v2 bool
	cmd := &cobra.Command{
		Use:     "del KEY [--prefix|--dir] [--v2]",
		Aliases: []string{"delete", "rm"},
		Short:   "Delete a key, a directory or every key with a prefix",
		Long: `Delete KEY and print OK. Deleting a v3 key that does not exist is not an error.

--dir deletes KEY and every key under KEY followed by the separator, in one
revision (with --v2: a directory and its whole subtree; a v2 directory cannot be
deleted without it). --prefix (v3) deletes every key that starts with KEY, as the
` + "`keys`" + ` tree lists them, one request per key: not atomically, and keys written
meanwhile may survive.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if prefix && v2 {
				return errors.New("--prefix is for v3 keys; with --v2 use --dir")
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !prefix {
				if err := c.do(ctx, http.MethodPost, kvBase(v2)+"/delete", map[string]any{"key": key, "dir": dir}, nil); err != nil {
					return fmt.Errorf("delete %s: %w", key, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "OK")
				return nil
			}
			root, err := kvTree(ctx, c, false)
			if err != nil {
				return fmt.Errorf("delete prefix %s: %w", key, err)
			}
			var keys []string
			walkTree(root, func(n kvNode) {
				if n.CreatedIndex > 0 && strings.HasPrefix(n.Key, key) {
					keys = append(keys, n.Key)
				}
			})
			for _, k := range keys {
				if err := c.do(ctx, http.MethodPost, kvBase(false)+"/delete", map[string]any{"key": k}, nil); err != nil {
					return fmt.Errorf("delete %s: %w", k, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "OK (%s)\n", pluralize(len(keys), "key"))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&prefix, "prefix", false, "delete every v3 key that starts with KEY (one request per key)")
	fs.BoolVar(&dir, "dir", false, "delete KEY and everything under it (v2: a directory, recursively)")
	fs.BoolVar(&v2, "v2", false, "use the v2 API")
	cmd.MarkFlagsMutuallyExclusive("prefix", "dir")
	return cmd
}

func pluralize(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// kvTree is GET keys: every key as a tree split on the separator, without
// values. The root's key is the separator.
func kvTree(ctx context.Context, c *apiClient, v2 bool) (kvNode, error) {
	var ans kvNodeAnswer
	err := c.do(ctx, http.MethodGet, kvBase(v2)+"/keys", nil, &ans)
	return ans.Node, err
}

// walkTree calls fn on every node below root, depth first, in order.
func walkTree(root kvNode, fn func(kvNode)) {
	for _, n := range root.Nodes {
		fn(n)
		walkTree(n, fn)
	}
}

// treeLabel is a node's key, with the separator appended to directories.
func treeLabel(n kvNode, sep string) string {
	if n.Dir && !strings.HasSuffix(n.Key, sep) {
		return n.Key + sep
	}
	return n.Key
}

func kvLsCmd(opts *clientOptions) *cobra.Command {
	var v2 bool
	cmd := &cobra.Command{
		Use:   "ls [PREFIX] [--v2]",
		Short: "List keys as a tree",
		Long: `List keys as the API's tree shows them: keys split on the separator, one line each,
indented by depth; directories (path prefixes, and keys with keys under them) end
in the separator. With PREFIX, only the keys starting with it and what is under
them.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			root, err := kvTree(cmd.Context(), c, v2)
			if err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			sep := root.Key
			if sep == "" {
				sep = "/"
			}
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			match := func(k string) bool {
				return strings.HasPrefix(k, prefix) || !strings.HasPrefix(prefix, sep) && strings.HasPrefix(k, sep+prefix)
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			var walk func(nodes []kvNode, depth int, matched bool)
			walk = func(nodes []kvNode, depth int, matched bool) {
				for _, n := range nodes {
					switch {
					case matched || match(n.Key):
						fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", depth), treeLabel(n, sep))
						walk(n.Nodes, depth+1, true)
					default: // a match may lie deeper
						walk(n.Nodes, depth, false)
					}
				}
			}
			walk(root.Nodes, 0, prefix == "")
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&v2, "v2", false, "use the v2 API")
	return cmd
}

func kvWatchCmd(opts *clientOptions) *cobra.Command {
	var (
		prefix        bool
		startRevision int64
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "watch KEY [--prefix] [--start-revision N]",
		Short: "Print every change to a key (or prefix) as it happens, until Ctrl-C",
		Long: `Print one line per change to KEY (with --prefix: to every key starting with KEY;
"" and --prefix watch every v3 key): the revision, PUT, DELETE or EXPIRE, the key,
and for puts the value, quoted. --json prints each event as the API sends it.

--start-revision N starts with the changes from revision N on (also past ones),
default the next write. A dropped connection is resumed where it stopped, so
every change is printed once and in order, until Ctrl-C. A start revision below
the compacted revision is an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("start-revision") && startRevision < 1 {
				return fmt.Errorf("--start-revision: want a revision >= 1, got %d", startRevision)
			}
			c, err := opts.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := &kvWatcher{
				c: c, key: args[0], prefix: prefix, next: startRevision, asJSON: asJSON,
				out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(),
			}
			err = w.run(ctx)
			if ctx.Err() != nil {
				return nil // Ctrl-C: a normal end
			}
			if err != nil {
				return fmt.Errorf("watch %s: %w", args[0], err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&prefix, "prefix", false, "watch every key that starts with KEY")
	fs.Int64Var(&startRevision, "start-revision", 0, "first revision `N` to print (default: the next write)")
	fs.BoolVar(&asJSON, "json", false, "print each event's JSON as the API sends it")
	return cmd
}

// Watch stream timing: a stream that sends nothing for watchIdle (the
// server sends a heartbeat every 15 s) is dead; reconnects back off from
// watchRetryMin to watchRetryMax.
var (
	watchIdle     = 45 * time.Second
	watchRetryMin = 200 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// kvWatcher follows one watch across reconnects.
type kvWatcher struct {
	c      *apiClient
	key    string
	prefix bool
	asJSON bool
	out    io.Writer
	errOut io.Writer

	// next is the first revision still to print (0: from the next write
	// on); lastID the id of the last event printed, sent as Last-Event-ID
	// on a reconnect so that a revision with several events resumes
	// inside it.
	next   int64
	lastID string
}

// errWatchFatal marks an error a reconnect cannot fix.
type errWatchFatal struct{ err error }

func (e *errWatchFatal) Error() string { return e.err.Error() }
func (e *errWatchFatal) Unwrap() error { return e.err }

// run streams until ctx ends or a fatal error. The first connection must
// succeed; later ones are retried with backoff.
func (w *kvWatcher) run(ctx context.Context) error {
	hc := &http.Client{Transport: watchTransport()}
	connected := false
	delay := watchRetryMin
	for {
		progressed, err := w.stream(ctx, hc, &connected)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fatal *errWatchFatal
		if errors.As(err, &fatal) || !connected {
			return err
		}
		if progressed {
			delay = watchRetryMin
		}
		from := "the next write"
		if w.next > 0 {
			from = "revision " + strconv.FormatInt(w.next, 10)
		}
		reason := "stream ended"
		if err != nil {
			reason = err.Error()
		}
		fmt.Fprintf(w.errOut, "trellis: watch: %s; reconnecting in %s from %s\n", reason, delay, from)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, watchRetryMax)
	}
}

func watchTransport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = clientTimeout
	return tr
}

// stream opens one watch stream and prints its events until it ends.
// progressed reports whether any event arrived.
func (w *kvWatcher) stream(ctx context.Context, hc *http.Client, connected *bool) (progressed bool, err error) {
	q := url.Values{"key": {w.key}}
	if w.prefix {
		q.Set("prefix", "true")
	}
	if w.next > 0 {
		q.Set("start_revision", strconv.FormatInt(w.next, 10))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.c.endpoint+kvBase(false)+"/watch?"+q.Encode(), nil)
	if err != nil {
		return false, &errWatchFatal{err}
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if w.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.c.token)
	}
	if w.lastID != "" {
		req.Header.Set("Last-Event-ID", w.lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("cannot reach %s: %w", w.c.endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		ae := &apiError{Status: resp.StatusCode, Message: errorMessage(raw)}
		// 5xx (no leader, a node stopping) can pass; a request the node
		// refuses will be refused again.
		if resp.StatusCode >= 500 {
			return false, ae
		}
		return false, &errWatchFatal{ae}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, &errWatchFatal{fmt.Errorf("%s answered %q, not an event stream", w.c.endpoint, ct)}
	}
	*connected = true

	// A stream silent for longer than watchIdle is cancelled.
	var silent atomic.Bool
	idle := time.AfterFunc(watchIdle, func() { silent.Store(true); cancel() })
	defer idle.Stop()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var data strings.Builder
	var id string
	hasData := false
	for {
		line, err := r.ReadString('\n')
		idle.Reset(watchIdle)
		if err != nil {
			if silent.Load() {
				return progressed, fmt.Errorf("no data from %s for %s", w.c.endpoint, watchIdle)
			}
			if errors.Is(err, io.EOF) {
				return progressed, nil
			}
			return progressed, fmt.Errorf("connection to %s lost: %w", w.c.endpoint, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" { // dispatch
			if hasData {
				if err := w.event(data.String(), id); err != nil {
					return progressed, err
				}
				progressed = true
			}
			data.Reset()
			id, hasData = "", false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "": // a comment: ": heartbeat", or where the stream starts
			if rev, ok := strings.CutPrefix(value, "watching from revision "); ok && w.next == 0 {
				// Without a start revision, a reconnect before the first
				// event must still resume here, not at the next write.
				if n, err := strconv.ParseInt(strings.TrimSpace(rev), 10, 64); err == nil && n > 0 {
					w.next = n
				}
			}
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "id":
			id = value
		}
	}
}

// event prints one event and advances the resume point.
func (w *kvWatcher) event(data, id string) error {
	var ev kvEvent
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return &errWatchFatal{fmt.Errorf("unexpected event from %s: %w", w.c.endpoint, err)}
	}
	if ev.Error != "" || (ev.Type == "" && ev.Code != "") {
		msg := ev.Error
		if ev.Code != "" {
			msg += " (" + ev.Code + ")"
		}
		if ev.Code == "unavailable" {
			return errors.New(msg) // another try may find a leader
		}
		return &errWatchFatal{errors.New(msg)}
	}
	if w.asJSON {
		fmt.Fprintln(w.out, data)
	} else if ev.Type == "PUT" {
		fmt.Fprintf(w.out, "%d %s %s %s\n", ev.ModifiedIndex, ev.Type, ev.Key, strconv.Quote(ev.Value))
	} else {
		fmt.Fprintf(w.out, "%d %s %s\n", ev.ModifiedIndex, ev.Type, ev.Key)
	}
	if id != "" {
		w.lastID = id
		// "R" completes revision R; "R:k" is inside it.
		if rev, err := strconv.ParseInt(id, 10, 64); err == nil {
			w.next = rev + 1
		} else if rev, _, ok := strings.Cut(id, ":"); ok {
			if r, err := strconv.ParseInt(rev, 10, 64); err == nil {
				w.next = r
			}
		}
	} else if ev.ModifiedIndex > 0 {
		w.next = ev.ModifiedIndex + 1
	}
	return nil
}
