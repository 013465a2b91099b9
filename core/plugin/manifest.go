package plugin

import (
	"fmt"
	"net"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Manifest is what the operator grants a plugin. Everything not granted is
// denied: with the zero Manifest a plugin can compute, log and read the
// clock, nothing more.
type Manifest struct {
	// MemoryPages caps each instance's linear memory, in 64 KiB pages
	// (default 1024 = 64 MiB). A Go plugin grows its heap in 4 MiB steps,
	// so very small limits fail at start ("cannot allocate").
	MemoryPages uint32 `json:"memory_pages,omitempty" koanf:"memory_pages"`
	// MemoryHighWaterPages: an instance whose memory has grown past this
	// after a call is replaced by a fresh one (Go's heap never shrinks).
	// Default three quarters of MemoryPages.
	MemoryHighWaterPages uint32 `json:"memory_high_water_pages,omitempty" koanf:"memory_high_water_pages"`
	// CallTimeout bounds every call into the plugin, host functions
	// included (default 10s). An instance that passes it is discarded.
	CallTimeout time.Duration `json:"call_timeout,omitempty" koanf:"call_timeout"`
	// MaxInstances bounds the pool (default 4). A connector holds one
	// instance from open to close.
	MaxInstances int `json:"max_instances,omitempty" koanf:"max_instances"`
	// WarmInstances are started at load, before the first call (default 1).
	WarmInstances int `json:"warm_instances,omitempty" koanf:"warm_instances"`
	// AllowedHosts are the hosts the plugin may reach over HTTP and TCP:
	// "example.com", "*.example.com", "10.0.0.7:5432", "*:8080". A pattern
	// without a port allows any port. Globs follow path.Match. Every HTTP
	// redirect hop is checked too.
	AllowedHosts []string `json:"allowed_hosts,omitempty" koanf:"allowed_hosts"`
	// AllowedPaths are directories the plugin may open files under:
	// "ro:/srv/in" (read-only, also the meaning of a bare path) or
	// "rw:/srv/out". Paths must be absolute; symlinks cannot escape them.
	AllowedPaths []string `json:"allowed_paths,omitempty" koanf:"allowed_paths"`
	// Config holds the values the plugin may read with config_get; any
	// other key reads as absent.
	Config map[string]string `json:"config,omitempty" koanf:"config"`
	// MaxOutputBytes bounds one response from the plugin (default 16 MiB).
	MaxOutputBytes uint32 `json:"max_output_bytes,omitempty" koanf:"max_output_bytes"`
	// MaxHandles bounds the open HTTP responses, connections and files per
	// instance (default 64).
	MaxHandles int `json:"max_handles,omitempty" koanf:"max_handles"`
	// SHA256, when set, pins the module: a different digest is refused.
	SHA256 string `json:"sha256,omitempty" koanf:"sha256"`
}

// Defaults of the manifest fields.
const (
	DefaultMemoryPages    = 1024
	DefaultCallTimeout    = 10 * time.Second
	DefaultMaxInstances   = 4
	DefaultWarmInstances  = 1
	DefaultMaxOutputBytes = 16 << 20
	DefaultMaxHandles     = 64
)

// withDefaults fills zero fields.
func (m Manifest) withDefaults() Manifest {
	if m.MemoryPages == 0 {
		m.MemoryPages = DefaultMemoryPages
	}
	if m.MemoryHighWaterPages == 0 {
		m.MemoryHighWaterPages = m.MemoryPages / 4 * 3
	}
	if m.CallTimeout == 0 {
		m.CallTimeout = DefaultCallTimeout
	}
	if m.MaxInstances == 0 {
		m.MaxInstances = DefaultMaxInstances
	}
	if m.WarmInstances == 0 {
		m.WarmInstances = DefaultWarmInstances
	}
	if m.WarmInstances > m.MaxInstances {
		m.WarmInstances = m.MaxInstances
	}
	if m.MaxOutputBytes == 0 {
		m.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if m.MaxHandles == 0 {
		m.MaxHandles = DefaultMaxHandles
	}
	return m
}

// Validate checks the manifest's values; Load calls it.
func (m Manifest) Validate() error {
	if m.MemoryPages > 65536 {
		return fmt.Errorf("plugin manifest: memory_pages %d exceeds 65536 (4 GiB)", m.MemoryPages)
	}
	if m.MemoryHighWaterPages > m.MemoryPages && m.MemoryPages != 0 {
		return fmt.Errorf("plugin manifest: memory_high_water_pages %d exceeds memory_pages %d", m.MemoryHighWaterPages, m.MemoryPages)
	}
	if m.CallTimeout < 0 {
		return fmt.Errorf("plugin manifest: call_timeout %s is negative", m.CallTimeout)
	}
	if m.MaxInstances < 0 || m.MaxInstances > 1024 {
		return fmt.Errorf("plugin manifest: max_instances %d out of range 1..1024", m.MaxInstances)
	}
	if m.WarmInstances < 0 {
		return fmt.Errorf("plugin manifest: warm_instances %d is negative", m.WarmInstances)
	}
	if m.MaxHandles < 0 {
		return fmt.Errorf("plugin manifest: max_handles %d is negative", m.MaxHandles)
	}
	for _, h := range m.AllowedHosts {
		if _, _, err := splitHostPattern(h); err != nil {
			return fmt.Errorf("plugin manifest: allowed_hosts %q: %w", h, err)
		}
	}
	for _, p := range m.AllowedPaths {
		if _, err := parsePathGrant(p); err != nil {
			return fmt.Errorf("plugin manifest: allowed_paths %q: %w", p, err)
		}
	}
	if m.SHA256 != "" && len(m.SHA256) != 64 {
		return fmt.Errorf("plugin manifest: sha256 %q is not 64 hex digits", m.SHA256)
	}
	return nil
}

// splitHostPattern splits "host", "host:port", "[v6]:port" patterns.
func splitHostPattern(p string) (host, port string, err error) {
	if p == "" {
		return "", "", fmt.Errorf("empty pattern")
	}
	if strings.ContainsAny(p, "/@ ") {
		return "", "", fmt.Errorf("a host pattern is host or host:port, not a URL")
	}
	host, port = p, ""
	if h, pt, e := net.SplitHostPort(p); e == nil {
		host, port = h, pt
	} else if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
		host = p[1 : len(p)-1]
	}
	if _, err := path.Match(host, ""); err != nil {
		return "", "", err
	}
	if port != "" && port != "*" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("port %q is not 1..65535 or *", port)
		}
	}
	return strings.ToLower(host), port, nil
}

// hostAllowed reports whether host:port matches one of the patterns.
func hostAllowed(patterns []string, host, port string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range patterns {
		ph, pp, err := splitHostPattern(p)
		if err != nil {
			continue
		}
		if pp != "" && pp != "*" && pp != port {
			continue
		}
		if ok, _ := path.Match(ph, host); ok {
			return true
		}
	}
	return false
}

// pathGrant is one parsed allowed_paths entry.
type pathGrant struct {
	dir      string
	readOnly bool
}

func parsePathGrant(s string) (pathGrant, error) {
	g := pathGrant{readOnly: true}
	switch {
	case strings.HasPrefix(s, "ro:"):
		s = s[3:]
	case strings.HasPrefix(s, "rw:"):
		s, g.readOnly = s[3:], false
	}
	if !filepath.IsAbs(s) {
		return g, fmt.Errorf("path must be absolute")
	}
	g.dir = filepath.Clean(s)
	return g, nil
}

// findGrant returns the grant covering an absolute, cleaned path and the
// path relative to it; the longest matching directory wins, so "rw:/a/b"
// inside "ro:/a" is writable.
func findGrant(grants []pathGrant, p string) (pathGrant, string, bool) {
	var best pathGrant
	var rel string
	found := false
	for _, g := range grants {
		var r string
		switch {
		case p == g.dir:
			r = "."
		case g.dir == "/" || strings.HasPrefix(p, g.dir+string(filepath.Separator)):
			r = strings.TrimPrefix(strings.TrimPrefix(p, g.dir), string(filepath.Separator))
		default:
			continue
		}
		if !found || len(g.dir) > len(best.dir) {
			best, rel, found = g, r, true
		}
	}
	return best, rel, found
}
