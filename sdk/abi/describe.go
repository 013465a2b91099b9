package abi

// Description is what trellis_v1_describe returns, as JSON. The host reads
// it once at load; operators see it in the plugin list.
type Description struct {
	// Name is the plugin's own name ([a-z0-9_-], at most 64 bytes).
	Name string `json:"name"`
	// Kind is connector or validator.
	Kind Kind `json:"kind"`
	// Version is the plugin's version (semver recommended).
	Version string `json:"version"`
	// ABIVersion must be Version for this host to load the plugin.
	ABIVersion int `json:"abi_version"`
	// Description says in a sentence what the plugin does and, for a
	// partial implementation, what it does not do yet.
	Description string `json:"description,omitempty"`
	// Config lists the keys the plugin takes.
	Config []ConfigKey `json:"config,omitempty"`
	// SDK names the SDK that built the plugin, for support.
	SDK string `json:"sdk,omitempty"`
}

// ConfigKey documents one configuration key.
type ConfigKey struct {
	Name string `json:"name"`
	// Type is string, int, float, bool, duration, []string or object.
	Type string `json:"type"`
	// Default is the value used when the key is absent.
	Default any `json:"default,omitempty"`
	// Required keys have no default: open fails without them.
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description,omitempty"`
	// Scope is where the value comes from: "open" (the connector's open
	// config, the default for connectors) or "host" (the operator's
	// manifest, read with config_get; the default for validators).
	Scope string `json:"scope,omitempty"`
	// Secret values are never logged or shown back.
	Secret bool `json:"secret,omitempty"`
}
