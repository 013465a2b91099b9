package config

import (
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// configFlag names the config file; it is not itself a config key.
const configFlag = "config"

// flagKeys maps each `serve` flag to the config key it overrides.
var flagKeys = map[string]string{
	"node-id":             "node.id",
	"data-dir":            "node.data_dir",
	"http-addr":           "http.addr",
	"raft-addr":           "raft.addr",
	"http-advertise-addr": "http.advertise_addr",
	"raft-advertise-addr": "raft.advertise_addr",
	"initial-cluster":     "raft.initial_cluster",
	"join":                "raft.join",
	"log-level":           "log.level",
}

// RegisterFlags adds the `trellis serve` flags to fs. Their defaults are
// shown in --help but never applied: Load only lets flags the user set
// override the file and environment.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String(configFlag, "", "read configuration from `FILE` (.yaml, .yml, .toml or .json)")
	fs.Uint64("node-id", d.Node.ID, "this node's raft ID `N`, > 0 (node.id)")
	fs.String("data-dir", d.Node.DataDir, "`DIR` for the raft log, snapshots and state (node.data_dir)")
	fs.String("http-addr", d.HTTP.Addr, "`HOST:PORT` to serve every HTTP API on (http.addr)")
	fs.String("raft-addr", d.Raft.Addr, "`HOST:PORT` for raft peer traffic (raft.addr)")
	fs.String("http-advertise-addr", d.HTTP.AdvertiseAddr,
		"`HOST:PORT` the other members reach the HTTP port at; empty means --http-addr (http.advertise_addr)")
	fs.String("raft-advertise-addr", d.Raft.AdvertiseAddr,
		"`HOST:PORT` the other members reach the raft port at; empty means --raft-addr (raft.advertise_addr)")
	fs.String("initial-cluster", d.Raft.InitialCluster,
		"bootstrap members as `\"1=HOST:PORT,2=HOST:PORT\"`; empty means this node alone (raft.initial_cluster)")
	fs.String("join", d.Raft.Join, "join a running cluster through the member at `HTTP-ADDR` (raft.join)")
	fs.String("log-level", d.Log.Level, "`LEVEL`: debug, info, warn or error (log.level)")
}

// configPath is the --config value, or "" when fs has no such flag.
func configPath(fs *pflag.FlagSet) string {
	if fs == nil || fs.Lookup(configFlag) == nil {
		return ""
	}
	return fs.Lookup(configFlag).Value.String()
}

// flagLayer reads the flags the user set; flags Load does not know (cobra's
// --help, other commands') are ignored.
func flagLayer(fs *pflag.FlagSet) (layer, error) {
	if fs == nil {
		return newLayer(), nil
	}
	names := map[string]string{} // key -> flag name
	// With a nil koanf, posflag skips every flag the user did not set.
	p := posflag.ProviderWithValue(fs, ".", nil, func(name, value string) (string, any) {
		key, ok := flagKeys[name]
		if !ok {
			return "", nil
		}
		names[key] = name
		return key, value
	})
	fk := koanf.New(".")
	if err := fk.Load(p, nil); err != nil {
		return layer{}, err
	}
	return checkLayer(fk.All(), source{
		text:   true,
		where:  func(key string) string { return "flag --" + names[key] + " (" + key + ")" },
		origin: func(key string) string { return "--" + names[key] },
	})
}
