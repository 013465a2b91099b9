package main

// The HTTP client every client subcommand (login, user, and later kv,
// snapshot, ...) uses to talk to a running node: where the node is, which
// session token to send, and errors turned into one readable line.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

const (
	defaultEndpoint = "http://127.0.0.1:8080"
	envEndpoint     = "TRELLIS_ENDPOINT"
	envToken        = "TRELLIS_TOKEN"
	// clientTimeout bounds one request; a node that cannot reach its
	// cluster answers 503 well before it.
	clientTimeout = 30 * time.Second
)

// clientOptions are the --endpoint and --token flags of a client command.
type clientOptions struct {
	endpoint string
	token    string
}

// addClientFlags registers --endpoint and --token on cmd and its
// subcommands.
func addClientFlags(cmd *cobra.Command) *clientOptions {
	o := &clientOptions{}
	fs := cmd.PersistentFlags()
	fs.StringVar(&o.endpoint, "endpoint", "",
		"node `URL` (default: $"+envEndpoint+", else the endpoint of the saved session, else "+defaultEndpoint+")")
	fs.StringVar(&o.token, "token", "",
		"session `TOKEN` (default: $"+envToken+", else the saved session from `trellis login`)")
	return o
}

// client resolves the endpoint and token: a flag wins over the
// environment, which wins over the session saved by `trellis login`. The
// saved token is sent only to the endpoint it was issued by.
func (o *clientOptions) client() (*apiClient, error) {
	saved, err := loadSession()
	if err != nil {
		return nil, err
	}
	endpoint := firstNonEmpty(o.endpoint, os.Getenv(envEndpoint))
	if endpoint == "" && saved != nil {
		endpoint = saved.Endpoint
	}
	endpoint, err = normalizeEndpoint(firstNonEmpty(endpoint, defaultEndpoint))
	if err != nil {
		return nil, err
	}
	token := firstNonEmpty(o.token, os.Getenv(envToken))
	if token == "" && saved != nil {
		if ep, err := normalizeEndpoint(saved.Endpoint); err == nil && ep == endpoint {
			token = saved.Token
		}
	}
	return newAPIClient(endpoint, token), nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// normalizeEndpoint accepts host:port or a URL and returns a URL without a
// trailing slash.
func normalizeEndpoint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty endpoint")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return "", fmt.Errorf("endpoint %q: want http:// or https://", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// apiClient sends JSON requests to one node.
type apiClient struct {
	endpoint string
	token    string
	http     *http.Client
}

func newAPIClient(endpoint, token string) *apiClient {
	return &apiClient{endpoint: endpoint, token: token, http: &http.Client{Timeout: clientTimeout}}
}

// apiError is a non-2xx answer, with the message the node gave.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Status == http.StatusUnauthorized {
		msg += " (run `trellis login`, or pass --token)"
	}
	return msg
}

// do sends in (when not nil) as a JSON body and decodes a 2xx answer into
// out (when not nil). Any other answer is an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
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
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unexpected answer from %s%s: %w", c.endpoint, path, err)
	}
	return nil
}

// unwrapURLError drops net/http's "Post \"url\":" prefix; the caller
// names the endpoint itself.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorMessage pulls the message out of an error body in any family's
// format: {"error": msg} (core, etcdmonitor, RobustMQ's envelope) or plain
// text. The result is one line.
func errorMessage(raw []byte) string {
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &body) == nil && len(body.Error) > 0 {
		var s string
		if json.Unmarshal(body.Error, &s) == nil && s != "" {
			msg = s
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 500 {
		msg = msg[:500] + "..."
	}
	return msg
}

// savedSession is what `trellis login` keeps in session.json.
type savedSession struct {
	Endpoint string `json:"endpoint"`
	Token    string `json:"token"`
	Username string `json:"username,omitempty"`
}

// sessionPath is $XDG_CONFIG_HOME/trellis/session.json, or
// ~/.config/trellis/session.json when XDG_CONFIG_HOME is not set.
func sessionPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find the session file: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "trellis", "session.json"), nil
}

// loadSession returns the saved session, or nil when there is none.
func loadSession() (*savedSession, error) {
	path, err := sessionPath()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	var s savedSession
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("session file %s is corrupt (remove it and log in again): %w", path, err)
	}
	return &s, nil
}

// saveSession writes the session file with mode 0600 (its directory
// 0700), replacing any old one in one rename.
func saveSession(s savedSession) (string, error) {
	path, err := sessionPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save session: %w", err)
	}
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-*.json")
	if err != nil {
		return "", fmt.Errorf("save session: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save session: %w", err)
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save session: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save session: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("save session: %w", err)
	}
	return path, nil
}

func removeSession() error {
	path, err := sessionPath()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove session: %w", err)
	}
	return nil
}

// stdin is shared by every prompt so that lines piped in are read in
// order (a password, then a new password).
var stdin = bufio.NewReader(os.Stdin)

// readSecret reads one line from standard input, printing prompt to
// standard error first when standard input is a terminal. The line is
// echoed: golang.org/x/term is not a dependency of this module.
func readSecret(prompt string) (string, error) {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(os.Stderr, prompt)
	}
	line, err := stdin.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no input")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
