package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// keyError is a bad value of one key. Load appends which file, variable or
// flag set it, or set cause when the error is about key being missing.
type keyError struct {
	key   string
	err   error
	cause string // the key whose value made key necessary, if not key
}

func (e *keyError) Error() string { return "config: " + e.key + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

func keyErr(key, format string, args ...any) error {
	return &keyError{key: key, err: fmt.Errorf(format, args...)}
}

// origin says which source set the value behind e, from Load's record.
func (e *keyError) origin(origins map[string]string) string {
	if o := origins[e.key]; o != "" {
		return o
	}
	return origins[e.cause]
}

// Validate checks values that are well-typed but unusable, so the node fails
// at start-up with one line naming the key rather than later in raft or the
// HTTP server. It reads the TLS files to prove they are readable.
func (c *Config) Validate() error {
	if c.Node.ID == 0 {
		return keyErr("node.id", "must be greater than 0")
	}
	if c.Node.DataDir == "" {
		return keyErr("node.data_dir", "must not be empty")
	}
	if err := c.validateHTTP(); err != nil {
		return err
	}
	if err := c.validateRaft(); err != nil {
		return err
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	if c.Storage.QuotaBytes < 0 {
		return keyErr("storage.quota_bytes", "must not be negative (0 turns the quota off), got %d", c.Storage.QuotaBytes)
	}
	if c.Plugins.MaxModuleBytes <= 0 {
		return keyErr("plugins.max_module_bytes", "must be greater than 0, got %d", c.Plugins.MaxModuleBytes)
	}
	for _, name := range sortedKeys(c.Plugins.Manifests) {
		if !validPluginName(name) {
			return keyErr(manifestsKey+"."+show(name),
				"a plugin name is [a-z0-9_-], at most 64 bytes, starting with a letter or digit")
		}
	}
	if c.Storage.QuotaCheckInterval <= 0 {
		return keyErr("storage.quota_check_interval", "must be greater than 0, got %s", c.Storage.QuotaCheckInterval)
	}
	if err := c.Storage.validateAutoCompaction(); err != nil {
		return err
	}
	if c.Audit.MaxEntries <= 0 {
		return keyErr("audit.max_entries", "must be greater than 0, got %d", c.Audit.MaxEntries)
	}
	if c.Audit.Retention < 0 {
		return keyErr("audit.retention", "must not be negative (0s keeps entries until audit.max_entries), got %s", c.Audit.Retention)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return keyErr("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return keyErr("log.format", "%q is not text or json", c.Log.Format)
	}
	return nil
}

func (c *Config) validateHTTP() error {
	h := c.HTTP
	if err := checkHostPort(h.Addr, false); err != nil {
		return &keyError{key: "http.addr", err: err}
	}
	if h.AdvertiseAddr != "" {
		if err := checkAdvertise(h.AdvertiseAddr); err != nil {
			return &keyError{key: "http.advertise_addr", err: err}
		}
	}
	if err := checkTLS("http.tls", h.TLS); err != nil {
		return err
	}
	if h.MaxBodyBytes <= 0 {
		return keyErr("http.max_body_bytes", "must be greater than 0, got %d", h.MaxBodyBytes)
	}
	if h.RateLimit < 0 || math.IsNaN(h.RateLimit) || math.IsInf(h.RateLimit, 0) {
		return keyErr("http.rate_limit", "must be a number >= 0 (0 means no limit), got %g", h.RateLimit)
	}
	if h.RateLimit > 0 && h.RateBurst < 1 {
		return &keyError{key: "http.rate_burst", cause: "http.rate_limit",
			err: fmt.Errorf("must be at least 1 when http.rate_limit is set, got %d", h.RateBurst)}
	}
	if h.RateBurst < 0 {
		return keyErr("http.rate_burst", "must not be negative, got %d", h.RateBurst)
	}
	return nonNegative(map[string]time.Duration{
		"http.read_timeout":     h.ReadTimeout,
		"http.write_timeout":    h.WriteTimeout,
		"http.shutdown_timeout": h.ShutdownTimeout,
	})
}

func (c *Config) validateRaft() error {
	r := c.Raft
	if err := checkHostPort(r.Addr, false); err != nil {
		return &keyError{key: "raft.addr", err: err}
	}
	if r.AdvertiseAddr != "" {
		if err := checkAdvertise(r.AdvertiseAddr); err != nil {
			return &keyError{key: "raft.advertise_addr", err: err}
		}
	}
	if err := c.checkReachable(); err != nil {
		return err
	}
	if r.InitialCluster != "" {
		members, err := ParseInitialCluster(r.InitialCluster)
		if err != nil {
			return &keyError{key: "raft.initial_cluster", err: err}
		}
		addr, ok := members[c.Node.ID]
		if !ok {
			return keyErr("raft.initial_cluster", "has no member for this node (node.id %d)", c.Node.ID)
		}
		if own := c.RaftAdvertise(); addr != own {
			return keyErr("raft.initial_cluster", "member %d is %q but this node's raft address is %q (raft.advertise_addr, else raft.addr); they must be the same",
				c.Node.ID, addr, own)
		}
		if len(members) > 1 && r.Join != "" {
			return keyErr("raft.join", "cannot be combined with a multi-member raft.initial_cluster: "+
				"a joining node learns the members from the cluster")
		}
	}
	if r.Join != "" {
		if err := checkJoin(r.Join); err != nil {
			return &keyError{key: "raft.join", err: err}
		}
		if r.JoinToken == "" && c.Auth.Enabled {
			return keyErr("raft.join_token", "is required with raft.join while auth is enabled: "+
				"members accept a join only with the cluster's token")
		}
	}
	if r.SnapshotCount == 0 {
		return keyErr("raft.snapshot_count", "must be greater than 0")
	}
	if r.TickInterval <= 0 {
		return keyErr("raft.tick_interval", "must be greater than 0, got %s", r.TickInterval)
	}
	if r.HeartbeatTicks <= 0 {
		return keyErr("raft.heartbeat_ticks", "must be greater than 0, got %d", r.HeartbeatTicks)
	}
	if r.ElectionTicks <= r.HeartbeatTicks {
		return &keyError{key: "raft.election_ticks", cause: "raft.heartbeat_ticks", err: fmt.Errorf(
			"must be greater than raft.heartbeat_ticks (%d), got %d", r.HeartbeatTicks, r.ElectionTicks)}
	}
	if r.RequestTimeout <= 0 {
		return keyErr("raft.request_timeout", "must be greater than 0, got %s", r.RequestTimeout)
	}
	return checkTLS("raft.tls", r.TLS)
}

func (c *Config) validateAuth() error {
	a := c.Auth
	if a.LockoutThreshold < 0 {
		return keyErr("auth.lockout_threshold", "must not be negative (0 disables lockout), got %d", a.LockoutThreshold)
	}
	if a.SessionTTL < 0 {
		return keyErr("auth.session_ttl", "must not be negative (0 means sessions never expire), got %s", a.SessionTTL)
	}
	return nonNegative(map[string]time.Duration{"auth.lockout_duration": a.LockoutDuration})
}

// nonNegative checks durations where 0 means "none"; keys are checked in
// sorted order so the error is stable.
func nonNegative(ds map[string]time.Duration) error {
	for _, key := range sortedKeys(ds) {
		if ds[key] < 0 {
			return keyErr(key, "must not be negative, got %s", ds[key])
		}
	}
	return nil
}

// checkTLS requires cert_file and key_file together (ca_file only with them)
// and that every named file can be read now rather than at first handshake.
func checkTLS(prefix string, t TLSConfig) error {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return &keyError{key: prefix + ".key_file", cause: prefix + ".cert_file",
			err: fmt.Errorf("must be set when %s.cert_file is", prefix)}
	case t.KeyFile != "" && t.CertFile == "":
		return &keyError{key: prefix + ".cert_file", cause: prefix + ".key_file",
			err: fmt.Errorf("must be set when %s.key_file is", prefix)}
	case t.CAFile != "" && t.CertFile == "":
		return keyErr(prefix+".ca_file", "needs %s.cert_file and %s.key_file", prefix, prefix)
	}
	for _, f := range []struct{ key, path string }{
		{prefix + ".cert_file", t.CertFile},
		{prefix + ".key_file", t.KeyFile},
		{prefix + ".ca_file", t.CAFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return &keyError{key: f.key, err: pathError("read", f.path, err)}
		}
	}
	return nil
}

// checkHostPort checks a HOST:PORT address. Listen addresses may leave the
// host empty (all interfaces) and use port 0 (any free port); addresses
// other nodes dial (dial true) need both.
func checkHostPort(s string, dial bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, " \t\r\n/") {
		return fmt.Errorf("%q is not HOST:PORT", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (port must be a number 0-65535)", s)
	}
	if dial && (host == "" || n == 0) {
		return fmt.Errorf("%q is not HOST:PORT (other nodes need a host and a non-zero port to reach it)", s)
	}
	return nil
}

// checkJoin accepts HOST:PORT or http(s)://HOST:PORT of a running member.
func checkJoin(s string) error {
	if !strings.Contains(s, "://") {
		return checkHostPort(s, true)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not HOST:PORT or http(s)://HOST:PORT", s)
	}
	if err := checkHostPort(u.Host, true); err != nil {
		return fmt.Errorf("%q is not HOST:PORT or http(s)://HOST:PORT", s)
	}
	return nil
}

// ParseInitialCluster parses raft.initial_cluster, "1=host:port,2=host:port",
// into member ID -> peer address. IDs must be unique and greater than 0, and
// addresses unique HOST:PORT with a host and non-zero port. Spaces around
// entries are ignored; "" gives an empty map.
func ParseInitialCluster(s string) (map[uint64]string, error) {
	members := map[uint64]string{}
	if strings.TrimSpace(s) == "" {
		return members, nil
	}
	byAddr := map[string]uint64{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		idStr, addr, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("member %q is not ID=HOST:PORT", entry)
		}
		idStr, addr = strings.TrimSpace(idStr), strings.TrimSpace(addr)
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("member %q: ID %q is not a number greater than 0", entry, idStr)
		}
		if err := checkHostPort(addr, true); err != nil {
			return nil, fmt.Errorf("member %q: %w", entry, err)
		}
		if _, dup := members[id]; dup {
			return nil, fmt.Errorf("member ID %d appears twice", id)
		}
		if other, dup := byAddr[addr]; dup {
			return nil, fmt.Errorf("members %d and %d have the same address %q", other, id, addr)
		}
		members[id] = addr
		byAddr[addr] = id
	}
	return members, nil
}

// InitialMembers is the membership a new cluster starts with: the parsed
// raft.initial_cluster, or this node alone at raft.addr when that is empty.
// Call it on a validated Config.
func (c *Config) InitialMembers() (map[uint64]string, error) {
	if c.Raft.InitialCluster == "" {
		return map[uint64]string{c.Node.ID: c.RaftAdvertise()}, nil
	}
	m, err := ParseInitialCluster(c.Raft.InitialCluster)
	if err != nil {
		return nil, &keyError{key: "raft.initial_cluster", err: err}
	}
	return m, nil
}

// validPluginName mirrors core/plugin's rule for plugin names, so a
// manifest under a name no plugin can have is caught at start-up.
func validPluginName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[0] == '_' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// validateAutoCompaction checks that the mode is known and has what it
// needs; the other mode's key is ignored.
func (s StorageConfig) validateAutoCompaction() error {
	switch s.AutoCompactionMode {
	case "off":
	case "periodic":
		if s.AutoCompactionRetention <= 0 {
			return &keyError{key: "storage.auto_compaction_retention", cause: "storage.auto_compaction_mode",
				err: fmt.Errorf("must be greater than 0 in periodic mode (auto_compaction_mode: off keeps all history), got %s", s.AutoCompactionRetention)}
		}
	case "revision":
		if s.AutoCompactionRevisions <= 0 {
			return &keyError{key: "storage.auto_compaction_revisions", cause: "storage.auto_compaction_mode",
				err: fmt.Errorf("must be greater than 0 in revision mode (auto_compaction_mode: off keeps all history), got %d", s.AutoCompactionRevisions)}
		}
	default:
		return keyErr("storage.auto_compaction_mode", "%q is not periodic, revision or off", s.AutoCompactionMode)
	}
	return nil
}

// checkAdvertise checks an address the other members dial: a host that
// is not the unspecified address, and a non-zero port.
func checkAdvertise(s string) error {
	if err := checkHostPort(s, true); err != nil {
		return err
	}
	if bindsAll(s) {
		return fmt.Errorf("%q is every interface, not an address the other members can reach", s)
	}
	return nil
}

// bindsAll reports whether HOST:PORT s listens on every interface.
func bindsAll(s string) bool {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// hasPeers reports whether the node starts with or joins other members.
func (c *Config) hasPeers() bool {
	return c.Raft.Join != "" || strings.Contains(c.Raft.InitialCluster, ",")
}

// checkReachable refuses a node with peers whose raft address binds
// every interface without raft.advertise_addr: the other members would be
// told to dial 0.0.0.0. (A multi-member raft.initial_cluster names this
// node's address itself, which must then match; a join sends it.)
func (c *Config) checkReachable() error {
	if c.hasPeers() && bindsAll(c.RaftAdvertise()) {
		return &keyError{key: "raft.advertise_addr", cause: "raft.addr",
			err: fmt.Errorf("is required when raft.addr %q binds every interface and the node has other members", c.Raft.Addr)}
	}
	return nil
}

// HTTPUnreachable reports a node with peers whose HTTP address binds every
// interface without http.advertise_addr: the members would forward
// requests to it at 0.0.0.0, which only works on one machine. The node
// warns rather than refuse, since such clusters on one host work.
func (c *Config) HTTPUnreachable() bool { return c.hasPeers() && bindsAll(c.HTTPAdvertise()) }
