// Package config holds Trellis's typed configuration and loads it with koanf:
// built-in defaults < config file (YAML, TOML or JSON by extension) <
// TRELLIS_* environment variables < command-line flags.
package config

import (
	"fmt"
	"log/slog"
	"time"
)

// Config is the whole node configuration. Its koanf tags are the config keys
// documented in config/trellis.yaml and DESIGN.md.
type Config struct {
	Node    NodeConfig              `koanf:"node"`
	HTTP    HTTPConfig              `koanf:"http"`
	Raft    RaftConfig              `koanf:"raft"`
	Auth    AuthConfig              `koanf:"auth"`
	Audit   AuditConfig             `koanf:"audit"`
	Storage StorageConfig           `koanf:"storage"`
	Modules map[string]ModuleConfig `koanf:"modules"`
	Plugins PluginsConfig           `koanf:"plugins"`
	Log     LogConfig               `koanf:"log"`
}

// NodeName is node.name, or "node-<id>" when it is empty, so every node has
// a readable name in logs and status pages without configuring one.
func (c *Config) NodeName() string {
	if c.Node.Name != "" {
		return c.Node.Name
	}
	return fmt.Sprintf("node-%d", c.Node.ID)
}

// SlogLevel is log.level as a slog.Level; anything Validate would reject
// maps to Info.
func (c *Config) SlogLevel() slog.Level {
	switch c.Log.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NodeConfig identifies this node and where it keeps its data.
type NodeConfig struct {
	ID uint64 `koanf:"id"`
	// Name is for display; empty means "node-<id>" (see NodeName).
	Name    string `koanf:"name"`
	DataDir string `koanf:"data_dir"`
}

// TLSConfig names PEM files. Empty means plain TCP.
type TLSConfig struct {
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	CAFile   string `koanf:"ca_file"`
}

// Enabled reports whether a certificate and key are configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// HTTPConfig is the one HTTP port every API family is served on.
type HTTPConfig struct {
	Addr string `koanf:"addr"`
	// AdvertiseAddr is where the other members reach this node's HTTP
	// port (forwarded requests, member lists); empty means Addr. Set it
	// when Addr binds every interface (0.0.0.0) or sits behind NAT.
	AdvertiseAddr   string        `koanf:"advertise_addr"`
	TLS             TLSConfig     `koanf:"tls"`
	MaxBodyBytes    int64         `koanf:"max_body_bytes"`
	ReadTimeout     time.Duration `koanf:"read_timeout"`
	WriteTimeout    time.Duration `koanf:"write_timeout"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// RateLimit is requests per second this node serves before answering
	// 429 (RobustMQ's cluster_limit.max_admin_http_uri_rate); 0 is no
	// limit. Health routes are exempt.
	RateLimit float64 `koanf:"rate_limit"`
	// RateBurst is how many requests may arrive at once above RateLimit.
	RateBurst int `koanf:"rate_burst"`
}

// RaftConfig configures the consensus group and its peer transport.
type RaftConfig struct {
	Addr string `koanf:"addr"`
	// AdvertiseAddr is where the other members reach this node's raft
	// port: its address in raft.initial_cluster and in a join; empty
	// means Addr (etcd's --initial-advertise-peer-urls).
	AdvertiseAddr string `koanf:"advertise_addr"`
	// InitialCluster is "1=host:port,2=host:port"; empty means a one-node
	// cluster made of this node.
	InitialCluster string `koanf:"initial_cluster"`
	// Join is the HTTP address of a running member to join through.
	Join      string `koanf:"join"`
	JoinToken string `koanf:"join_token"`
	// SnapshotCount is the number of applied entries between snapshots.
	SnapshotCount uint64 `koanf:"snapshot_count"`
	// SnapshotCatchupEntries is how many entries are kept behind a snapshot
	// so slow followers can catch up from the log.
	SnapshotCatchupEntries uint64        `koanf:"snapshot_catchup_entries"`
	TickInterval           time.Duration `koanf:"tick_interval"`
	ElectionTicks          int           `koanf:"election_ticks"`
	HeartbeatTicks         int           `koanf:"heartbeat_ticks"`
	// RequestTimeout bounds how long a write or linearizable read waits for
	// the cluster before it fails with 503.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	TLS            TLSConfig     `koanf:"tls"`
}

// AuthConfig configures the session system (issue 3 fills the service in).
type AuthConfig struct {
	Enabled          bool          `koanf:"enabled"`
	AdminPassword    string        `koanf:"admin_password"`
	LockoutThreshold int           `koanf:"lockout_threshold"`
	LockoutDuration  time.Duration `koanf:"lockout_duration"`
	SessionTTL       time.Duration `koanf:"session_ttl"`
}

// AuditConfig bounds the audit log of mutating requests (core/audit).
type AuditConfig struct {
	// MaxEntries is how many entries the cluster keeps; the leader deletes
	// the oldest beyond it.
	MaxEntries int `koanf:"max_entries"`
	// Retention is how long an entry is kept; 0 means until MaxEntries
	// pushes it out.
	Retention time.Duration `koanf:"retention"`
}

// StorageConfig bounds the state store, like etcd's backend quota.
type StorageConfig struct {
	// QuotaBytes is the state store size at which a member raises the
	// NOSPACE alarm; writes to module data then fail until an operator
	// compacts, defragments and disarms. 0 turns the quota off.
	QuotaBytes int64 `koanf:"quota_bytes"`
	// QuotaCheckInterval is how often each member measures its state store.
	QuotaCheckInterval time.Duration `koanf:"quota_check_interval"`
	// AutoCompactionMode is how the leader discards old history by itself,
	// like etcd's --auto-compaction-mode: "periodic" keeps
	// AutoCompactionRetention of it, "revision" the newest
	// AutoCompactionRevisions revisions, "off" everything until an
	// operator compacts.
	AutoCompactionMode string `koanf:"auto_compaction_mode"`
	// AutoCompactionRetention is the history periodic mode keeps.
	AutoCompactionRetention time.Duration `koanf:"auto_compaction_retention"`
	// AutoCompactionRevisions is how many revisions revision mode keeps.
	AutoCompactionRevisions int64 `koanf:"auto_compaction_revisions"`
}

// ModuleConfig is a module's section. Enabled decides whether it runs; the
// other keys belong to the module, which declares them (module.Configurer).
type ModuleConfig struct {
	Enabled bool `koanf:"enabled"`
	// Options holds the section's other keys, undecoded, because only the
	// module knows their types: decode them with DecodeModuleOptions. Values
	// set from the environment are strings. Nil when there are none.
	Options map[string]any `koanf:",remain"`
}

// PluginsConfig says where WebAssembly plugins are dropped in, how large a
// module may be and what each plugin is granted.
type PluginsConfig struct {
	Dir string `koanf:"dir"`
	// CacheDir keeps plugins' compiled code across restarts; empty means
	// <node.data_dir>/plugin-cache. Nodes on one machine may share one.
	CacheDir string `koanf:"cache_dir"`
	// MaxModuleBytes caps a plugin module, uploaded or read from a
	// directory (POST /api/plugins takes this body size, not
	// http.max_body_bytes).
	MaxModuleBytes int64 `koanf:"max_module_bytes"`
	// Manifests holds each plugin's manifest by plugin name: the keys of
	// core/plugin.Manifest (memory_pages, call_timeout, allowed_hosts,
	// allowed_paths, config, ...). The node decodes them with
	// DecodeOptions; a plugin without an entry gets the deny-by-default
	// manifest. Set in the file only: plugin names do not map to
	// variable names.
	Manifests map[string]map[string]any `koanf:"manifests"`
}

// LogConfig configures log/slog.
type LogConfig struct {
	Level  string `koanf:"level"`  // debug, info, warn, error
	Format string `koanf:"format"` // text or json
}

// HTTPAdvertise is the HTTP address the other members use for this node.
func (c *Config) HTTPAdvertise() string {
	if c.HTTP.AdvertiseAddr != "" {
		return c.HTTP.AdvertiseAddr
	}
	return c.HTTP.Addr
}

// RaftAdvertise is the raft address the other members use for this node.
func (c *Config) RaftAdvertise() string {
	if c.Raft.AdvertiseAddr != "" {
		return c.Raft.AdvertiseAddr
	}
	return c.Raft.Addr
}
