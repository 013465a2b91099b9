package main

// etcd clusters as real processes, driven through etcd's HTTP JSON gateway.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// findEtcd resolves -etcd: "" when the comparison is off or, for auto,
// when etcd is not on PATH.
func findEtcd(flagValue string) (string, error) {
	switch flagValue {
	case "off", "":
		return "", nil
	case "auto":
		p, err := exec.LookPath("etcd")
		if err != nil {
			return "", nil
		}
		return p, nil
	}
	p, err := exec.LookPath(flagValue)
	if err != nil {
		return "", fmt.Errorf("-etcd %s: %w", flagValue, err)
	}
	return p, nil
}

// etcdVersion is the first line of `etcd --version` without its label.
func etcdVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "etcd Version:"))
}

// etcdCluster is a running etcd cluster and the gateway prefix it answers
// on (/v3/, /v3beta/ or /v3alpha/ depending on the release).
type etcdCluster struct {
	procs  []*proc
	eps    []string
	prefix string
}

func (c *etcdCluster) Name() string               { return "etcd" }
func (c *etcdCluster) Size() int                  { return len(c.procs) }
func (c *etcdCluster) Endpoints() []string        { return c.eps }
func (c *etcdCluster) Stop() error                { return stopAll(c.procs) }
func (c *etcdCluster) RSS() (now, peak []float64) { return rssAll(c.procs) }
func (c *etcdCluster) CPU() time.Duration         { return cpuAll(c.procs) }
func (c *etcdCluster) Storage(ctx context.Context) storageStats {
	return scrapeStorage(ctx, c.eps, "", "etcd_disk_wal_fsync_duration_seconds_count", "etcd_disk_wal_fsync_duration_seconds_sum", "etcd_debugging_mvcc_current_revision")
}
func (c *etcdCluster) gateway(ep, op string) string { return ep + c.prefix + "kv/" + op }

// startEtcd starts size members under dir on loopback and returns once
// every member is healthy and the gateway answers.
func startEtcd(ctx context.Context, bin, dir string, size int) (_ *etcdCluster, err error) {
	ports, err := freePorts(2 * size)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range size {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i+1, ports[size+i]))
	}
	c := &etcdCluster{}
	defer func() {
		if err != nil {
			stopAll(c.procs)
		}
	}()
	for i := range size {
		name := fmt.Sprintf("m%d", i+1)
		memberDir := filepath.Join(dir, name)
		if err := os.MkdirAll(memberDir, 0o700); err != nil {
			return nil, err
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[size+i])
		// Defaults otherwise: snapshot count, heartbeat 100 ms, election
		// 1 s, no auth, the gateway on the client port.
		p, err := startProc("etcd member "+name, filepath.Join(memberDir, "etcd.log"), nil, bin,
			"--name", name,
			"--data-dir", filepath.Join(memberDir, "data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", fmt.Sprintf("loadkv-%d-%d", size, os.Getpid()),
			"--logger", "zap", "--log-level", "warn",
		)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.eps = append(c.eps, client)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if err := waitReady(ctx, c.procs, c.eps, "became healthy", func(ep string) error {
		raw, err := getBody(ctx, hc, ep+"/health")
		if err == nil && !bytes.Contains(raw, []byte(`"true"`)) {
			err = fmt.Errorf("unhealthy: %s", raw)
		}
		return err
	}); err != nil {
		return nil, err
	}
	// The gateway moved from /v3alpha/ (3.2) through /v3beta/ (3.3) to
	// /v3/ (3.4+); 3.4 still serves /v3beta/. Ask for the newest first.
	var errs []error
	for _, prefix := range []string{"/v3/", "/v3beta/", "/v3alpha/"} {
		body := fmt.Sprintf(`{"key":%q}`, base64.StdEncoding.EncodeToString([]byte("/loadkv/probe")))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.eps[0]+prefix+"kv/range", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		raw, err := do(hc, req, nil)
		if err == nil && bytes.Contains(raw, []byte(`"header"`)) {
			c.prefix = prefix
			progress("etcd: HTTP gateway at %skv/", prefix)
			return c, nil
		}
		if err == nil {
			err = fmt.Errorf("unexpected answer %.200s", raw)
		}
		errs = append(errs, fmt.Errorf("%s: %w", prefix, err))
	}
	return nil, fmt.Errorf("no etcd HTTP gateway answered: %w", errors.Join(errs...))
}

func getBody(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return do(hc, req, nil)
}

// NewRequest: POST <gateway>kv/put {"key","value"} and POST
// <gateway>kv/range {"key"}, key and value base64; range is linearizable
// unless "serializable" is set, which it is not.
func (c *etcdCluster) NewRequest(op, ep, key string, value []byte) (request, error) {
	enc := base64.StdEncoding
	body := make([]byte, 0, 32+enc.EncodedLen(len(key))+enc.EncodedLen(len(value)))
	body = append(body, `{"key":"`...)
	body = enc.AppendEncode(body, []byte(key))
	body = append(body, '"')
	var url string
	switch op {
	case "put":
		body = append(body, `,"value":"`...)
		body = enc.AppendEncode(body, value)
		body = append(body, '"')
		url = c.gateway(ep, "put")
	case "get":
		url = c.gateway(ep, "range")
	default:
		return request{}, fmt.Errorf("unknown op %q", op)
	}
	body = append(body, '}')
	return request{method: http.MethodPost, url: url, contentType: "application/json", body: body}, nil
}

// Check: a range must return the key (etcd answers 200 with no "kvs" for a
// missing one).
func (c *etcdCluster) Check(op string, body []byte) error {
	if op == "get" && !bytes.Contains(body, []byte(`"kvs"`)) {
		return errors.New("range answered without kvs")
	}
	return nil
}
