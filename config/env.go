package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
)

// envPrefix marks Trellis's variables. Every variable with it must name a
// config key: a typo such as TRELLIS_HTTP_ADR is an error, not silently
// ignored.
const envPrefix = "TRELLIS_"

// ClientVariables are TRELLIS_* variables the client subcommands read
// (trellis login, user, kv, ...). They are not config keys, and serve
// ignores them so one shell can run both.
var ClientVariables = []string{"TRELLIS_ENDPOINT", "TRELLIS_TOKEN", "TRELLIS_PASSWORD", "TRELLIS_NEW_PASSWORD"}

// ProcessVariables are TRELLIS_* variables other parts of the server
// process read; they are not config keys either. TRELLIS_FAILPOINTS arms
// the failpoints of a binary built with the failpoints tag
// (core/internal/failpoint); other builds ignore it.
// TRELLIS_SHIPPED_PLUGINS moves the shipped plugins' directory
// (core/node.EnvShippedPlugins), for packagers and tests.
var ProcessVariables = []string{"TRELLIS_FAILPOINTS", "TRELLIS_SHIPPED_PLUGINS"}

// envLayer reads TRELLIS_* variables from environ.
//
// Keys contain underscores (raft.snapshot_count), so a variable name cannot
// be split mechanically; it is matched against the known keys instead.
// Under modules the module names come from the defaults and the config
// file, and what follows the name is one module key, lowercased:
// TRELLIS_MODULES_KV_MAX_VALUE_BYTES sets modules.kv.max_value_bytes (nested
// module keys cannot be set from the environment).
func envLayer(environ []string, modules []string) (layer, error) {
	names := map[string]string{} // key -> variable name
	var unknown []string
	p := env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			if slices.Contains(ClientVariables, name) || slices.Contains(ProcessVariables, name) {
				return "", nil
			}
			key, ok := envKey(name, modules)
			if !ok {
				unknown = append(unknown, name)
				return "", nil
			}
			names[key] = name
			return key, value
		},
	})
	ek := koanf.New(".")
	if err := ek.Load(p, nil); err != nil {
		return layer{}, fmt.Errorf("config: environment: %w", err)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		name := unknown[0]
		more := ""
		if len(unknown) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(unknown)-1)
		}
		hint := suggest(name, envNames())
		if strings.HasPrefix(name, envPrefix+"MODULES_") && hint == "" {
			hint = " (modules: " + strings.Join(modules, ", ") + ")"
		}
		return layer{}, fmt.Errorf("config: environment: %s: no such config key%s%s", name, hint, more)
	}
	return checkLayer(ek.All(), source{
		text:   true,
		where:  func(key string) string { return "environment: " + names[key] + " (" + key + ")" },
		origin: func(key string) string { return names[key] },
	})
}

// envKey maps a variable name to its config key.
func envKey(name string, modules []string) (string, bool) {
	if key, ok := schema.env[name]; ok {
		return key, true
	}
	rest, ok := strings.CutPrefix(name, envPrefix+"MODULES_")
	if !ok {
		return "", false
	}
	// The longest matching module name wins, so "a_b" beats "a".
	module := ""
	for _, m := range modules {
		if len(m) > len(module) && strings.HasPrefix(rest, strings.ToUpper(m)+"_") {
			module = m
		}
	}
	if module == "" {
		return "", false
	}
	opt := rest[len(module)+1:]
	if !isEnvWord(opt) {
		return "", false
	}
	return modulesKey + "." + module + "." + strings.ToLower(opt), true
}

// isEnvWord reports whether s is upper-case words joined by single
// underscores, the only shape that maps back to a snake_case key.
func isEnvWord(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// envNames lists the variables for the fixed keys, for "did you mean".
func envNames() []string {
	out := make([]string, 0, len(schema.env))
	for _, k := range knownKeys() {
		out = append(out, envName(k))
	}
	return out
}
