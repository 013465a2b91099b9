package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/trellis-cp/trellis/core/plugin/internal/interrupt"
	"github.com/trellis-cp/trellis/sdk/abi"
)

var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Load compiles, checks and starts a plugin under name with manifest m.
// The plugin is not registered anywhere: put it in a Registry to serve
// it by name.
//
// Refusals wrap ErrBadModule (not WebAssembly), ErrABI (not an ABI v1
// plugin: another version, a missing export, an import the host lacks, a
// bad description) or ErrStart (the module would not start), and say
// which. A refused module leaves nothing behind and never disturbs other
// plugins.
func (h *Host) Load(ctx context.Context, name string, wasm []byte, m Manifest) (p *Plugin, err error) {
	defer func() {
		result := "ok"
		if err != nil {
			result = "error"
		}
		h.metrics.loads.WithLabelValues(result).Inc()
	}()
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("plugin %q: a plugin name is [a-z0-9_-], at most 64 bytes, starting with a letter or digit", name)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	m = m.withDefaults()
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	if m.SHA256 != "" && !strings.EqualFold(m.SHA256, digest) {
		return nil, fmt.Errorf("plugin %s: module sha256 %s does not match the manifest's %s", name, digest, m.SHA256)
	}
	if len(wasm) < len(wasmMagic) || !bytes.Equal(wasm[:4], wasmMagic[:4]) {
		return nil, fmt.Errorf("plugin %s: %w: no \\0asm header (%d bytes)", name, ErrBadModule, len(wasm))
	}
	if !bytes.Equal(wasm[4:8], wasmMagic[4:]) {
		return nil, fmt.Errorf("plugin %s: %w: binary format version %x, want 1", name, ErrBadModule, wasm[4:8])
	}

	p = &Plugin{
		host:     h,
		name:     name,
		digest:   digest,
		size:     len(wasm),
		manifest: m,
		logger:   h.logger.With("plugin", name),
		done:     make(chan struct{}),
	}
	// Ready before the first instance: a plugin's init functions may
	// already use the host.
	p.http = p.newHTTPClient()
	for _, g := range m.AllowedPaths {
		pg, _ := parsePathGrant(g) // checked by Validate
		p.grants = append(p.grants, pg)
	}
	rt := newRuntime(ctx, h, m)
	p.rt = rt
	ok := false
	defer func() {
		if !ok {
			rt.Close(context.Background())
		}
	}()

	start := time.Now()
	code, fromCache, err := h.instrument(digest, wasm)
	if err != nil {
		if errors.Is(err, interrupt.ErrReserved) {
			return nil, fmt.Errorf("plugin %s: %w: %v", name, ErrABI, err)
		}
		return nil, fmt.Errorf("plugin %s: %w: %v", name, ErrBadModule, err)
	}
	p.compiled, err = p.rt.CompileModule(ctx, code)
	if err != nil && fromCache {
		h.forget(digest)
		if code, _, err = h.instrument(digest, wasm); err == nil {
			p.compiled, err = p.rt.CompileModule(ctx, code)
		}
	}
	if err != nil {
		msg := firstLine(err.Error())
		if strings.Contains(msg, "over limit of") {
			// Valid bytes, but the module's minimum memory exceeds the
			// manifest's: the operator's setting, not the module, is at fault.
			return nil, fmt.Errorf("plugin %s: %w: %s (memory_pages is %d)", name, ErrStart, msg, m.MemoryPages)
		}
		return nil, fmt.Errorf("plugin %s: %w: %s", name, ErrBadModule, msg)
	}
	p.stats.Compile = time.Since(start)
	if err := checkImports(p.compiled); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	if err := checkExports(p.compiled); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("plugin %s: wasi: %w", name, err)
	}
	if err := instantiateHostModule(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("plugin %s: host module: %w", name, err)
	}
	if err := instantiateTickModule(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("plugin %s: tick module: %w", name, err)
	}

	p.pool = newPool(p, m.MaxInstances)
	start = time.Now()
	first, err := p.newInstance(ctx)
	if err != nil {
		return nil, err
	}
	p.stats.Instantiate = time.Since(start)
	p.pool.slots <- struct{}{}
	if p.desc, err = first.describe(ctx); err != nil {
		first.close()
		return nil, err
	}
	if err := checkKind(p.compiled, p.desc.Kind); err != nil {
		first.close()
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	first.idle()
	p.pool.idle <- first
	start = time.Now()
	if err := p.pool.warm(ctx, m.WarmInstances-1); err != nil {
		p.pool.close()
		return nil, err
	}
	p.stats.Warm = time.Since(start)
	p.mValidate = h.metrics.forCall(name, "validate")
	p.mCompile = h.metrics.forCall(name, "compile")
	p.mWrite = h.metrics.forCall(name, "write")
	p.mOpen = h.metrics.forCall(name, "open")
	if err := h.track(p); err != nil {
		p.pool.close()
		return nil, err
	}
	ok = true
	p.logger.Info("plugin loaded", "kind", p.desc.Kind, "version", p.desc.Version, "sha256", digest[:12],
		"bytes", len(wasm), "compile", p.stats.Compile.Round(time.Microsecond),
		"instantiate", p.stats.Instantiate.Round(time.Microsecond), "instances", len(p.pool.slots))
	return p, nil
}

// describe calls trellis_v1_describe and checks the answer.
func (in *instance) describe(ctx context.Context) (Description, error) {
	if err := in.call(ctx, "describe", in.fn.describe, in.stack[:1]); err != nil {
		return Description{}, err
	}
	ptr, n := abi.Unpack(in.stack[0])
	if n > 1<<20 {
		return Description{}, fmt.Errorf("plugin %s: %w: description of %d bytes", in.p.name, ErrABI, n)
	}
	view, ok := in.mem.Read(ptr, n)
	if !ok {
		return Description{}, fmt.Errorf("plugin %s: %w: description at %#x+%d is outside memory", in.p.name, ErrABI, ptr, n)
	}
	d, err := parseDescription(bytes.Clone(view))
	if err != nil {
		return d, fmt.Errorf("plugin %s: %w", in.p.name, err)
	}
	return d, nil
}
