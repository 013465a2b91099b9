package config

import "time"

// defaultModules are the built-in modules; each runs unless its section says
// enabled: false. The node's module registry is the authority on which names
// exist (see CheckModules); this list only seeds the defaults.
var defaultModules = []string{"admin", "operator", "kv", "tenant", "connector", "schema"}

// Defaults returns the built-in configuration: a one-node cluster serving
// HTTP on 127.0.0.1:8080 and raft on 127.0.0.1:7000 with data in ./data.
// config/trellis.yaml documents the same values; a test keeps them equal.
func Defaults() Config {
	mods := make(map[string]ModuleConfig, len(defaultModules))
	for _, name := range defaultModules {
		mods[name] = ModuleConfig{Enabled: true}
	}
	return Config{
		Node: NodeConfig{ID: 1, DataDir: "./data"},
		HTTP: HTTPConfig{
			Addr:         "127.0.0.1:8080",
			MaxBodyBytes: 4 << 20,
			ReadTimeout:  30 * time.Second,
			// No write timeout: watch streams stay open indefinitely.
			WriteTimeout:    0,
			ShutdownTimeout: 10 * time.Second,
			// Far above what operators and dashboards send, low enough
			// that a runaway client cannot monopolise a node.
			RateLimit: 1000,
			RateBurst: 2000,
		},
		Raft: RaftConfig{
			Addr:                   "127.0.0.1:7000",
			SnapshotCount:          10000,
			SnapshotCatchupEntries: 5000,
			TickInterval:           100 * time.Millisecond,
			ElectionTicks:          10,
			HeartbeatTicks:         1,
			RequestTimeout:         5 * time.Second,
		},
		Auth: AuthConfig{
			Enabled:          true,
			LockoutThreshold: 5,
			LockoutDuration:  15 * time.Minute,
			SessionTTL:       24 * time.Hour,
		},
		Audit: AuditConfig{MaxEntries: 10000, Retention: 720 * time.Hour},
		Storage: StorageConfig{
			QuotaBytes:              2 << 30,
			QuotaCheckInterval:      5 * time.Second,
			AutoCompactionMode:      "periodic",
			AutoCompactionRetention: time.Hour,
		},
		Modules: mods,
		Plugins: PluginsConfig{Dir: "./plugins", MaxModuleBytes: 64 << 20},
		Log:     LogConfig{Level: "info", Format: "text"},
	}
}
