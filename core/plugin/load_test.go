package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/plugin/internal/wasmgen"
)

func TestLoadShippedAndExample(t *testing.T) {
	h, _ := testHost(t)
	for _, tc := range []struct {
		name, kind, describes string
	}{
		{"json", "validator", "JSON Schema"},
		{"avro", "validator", "Avro binary"},
		{"protobuf", "validator", "Protocol Buffers"},
		{"webhook", "connector", "POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, h, tc.name, plugin.Manifest{})
			d := p.Describe()
			if d.Name != tc.name || string(d.Kind) != tc.kind || d.ABIVersion != 1 || d.Version == "" ||
				!strings.Contains(d.Description, tc.describes) || d.SDK == "" {
				t.Fatalf("describe = %+v", d)
			}
			if len(p.Digest()) != 64 || p.Size() == 0 {
				t.Fatalf("digest %q size %d", p.Digest(), p.Size())
			}
			t.Logf("%s: %d bytes, compile %s, instantiate %s", tc.name, p.Size(), p.LoadStats().Compile, p.LoadStats().Instantiate)
		})
	}
}

func TestLoadRefusals(t *testing.T) {
	h, _ := testHost(t)
	valid := wasmgen.Desc("raw", "validator", 1)
	missingAlloc := &wasmgen.Module{}
	missingAlloc.Memory(1)
	missingAlloc.Func("trellis_v1_describe", nil, wasmgen.Types(wasmgen.I64), wasmgen.I64Const(0))
	v2 := &wasmgen.Module{}
	v2.Memory(1)
	v2.Func("trellis_v2_describe", nil, wasmgen.Types(wasmgen.I64), wasmgen.I64Const(0))
	v2.Func("trellis_v2_alloc", wasmgen.Types(wasmgen.I32), wasmgen.Types(wasmgen.I32), wasmgen.I32Const(0))
	importsV2 := &wasmgen.Module{}
	importsV2.Import("trellis_v2", "log", wasmgen.Types(wasmgen.I32), nil)
	importsV2.Memory(1)
	importsUnknown := &wasmgen.Module{}
	importsUnknown.Import("trellis_v1", "teleport", wasmgen.Types(wasmgen.I32), nil)
	importsUnknown.Memory(1)
	importsWrongSig := &wasmgen.Module{}
	importsWrongSig.Import("trellis_v1", "log", wasmgen.Types(wasmgen.I64), nil)
	importsWrongSig.Memory(1)
	importsEnv := &wasmgen.Module{}
	importsEnv.Import("env", "abort", nil, nil)
	importsEnv.Memory(1)
	wrongSig := &wasmgen.Module{}
	wrongSig.Memory(1)
	wrongSig.Func("trellis_v1_describe", nil, wasmgen.Types(wasmgen.I32), wasmgen.I32Const(0))
	noMemory := &wasmgen.Module{}
	noMemory.Func("trellis_v1_describe", nil, wasmgen.Types(wasmgen.I64), wasmgen.I64Const(0))
	noMemory.Func("trellis_v1_alloc", wasmgen.Types(wasmgen.I32), wasmgen.Types(wasmgen.I32), wasmgen.I32Const(0))
	noMemory.Func("trellis_v1_free", wasmgen.Types(wasmgen.I32), nil, nil)
	connectorWithoutExports := wasmgen.Plugin(wasmgen.Desc("raw", "connector", 1), "")
	unknownKind := wasmgen.Plugin(wasmgen.Desc("raw", "transformer", 1), "")
	noName := wasmgen.Plugin(map[string]any{"kind": "validator", "abi_version": 1}, "")
	trapInDescribe := &wasmgen.Module{}
	trapInDescribe.Memory(1)
	trapInDescribe.Func("trellis_v1_describe", nil, wasmgen.Types(wasmgen.I64), wasmgen.Unreachable)
	trapInDescribe.Func("trellis_v1_alloc", wasmgen.Types(wasmgen.I32), wasmgen.Types(wasmgen.I32), wasmgen.I32Const(0))
	trapInDescribe.Func("trellis_v1_free", wasmgen.Types(wasmgen.I32), nil, nil)

	for _, tc := range []struct {
		name  string
		wasm  []byte
		is    error
		words string
	}{
		{"empty", nil, plugin.ErrBadModule, "no \\0asm header"},
		{"text", []byte("hello, this is not wasm"), plugin.ErrBadModule, "no \\0asm header"},
		{"version", []byte("\x00asm\x02\x00\x00\x00"), plugin.ErrBadModule, "binary format version"},
		{"truncated", append([]byte("\x00asm\x01\x00\x00\x00\x01\x05"), 0x01), plugin.ErrBadModule, ""},
		{"garbage section", []byte("\x00asm\x01\x00\x00\x00\x7f\x7f\x7f\x7f"), plugin.ErrBadModule, ""},
		{"no exports", (&wasmgen.Module{}).Bytes(), plugin.ErrABI, "missing export trellis_v1_describe"},
		{"missing alloc", missingAlloc.Bytes(), plugin.ErrABI, "missing export trellis_v1_alloc"},
		{"ABI v2 exports", v2.Bytes(), plugin.ErrABI, "built for ABI v2"},
		{"ABI v2 imports", importsV2.Bytes(), plugin.ErrABI, "built for ABI v2"},
		{"unknown host function", importsUnknown.Bytes(), plugin.ErrABI, "trellis_v1.teleport"},
		{"host function signature", importsWrongSig.Bytes(), plugin.ErrABI, "trellis_v1.log with signature (i64)"},
		{"foreign import", importsEnv.Bytes(), plugin.ErrABI, "env.abort"},
		{"export signature", wrongSig.Bytes(), plugin.ErrABI, "export trellis_v1_describe has signature () -> (i32)"},
		{"no memory", noMemory.Bytes(), plugin.ErrABI, `missing export "memory"`},
		{"describes ABI v2", wasmgen.Plugin(wasmgen.Desc("raw", "validator", 2), "").Bytes(), plugin.ErrABI, "abi_version 2"},
		{"connector without its exports", connectorWithoutExports.Bytes(), plugin.ErrABI, "missing export trellis_v1_connector_open"},
		{"unknown kind", unknownKind.Bytes(), plugin.ErrABI, `kind "transformer"`},
		{"no name", noName.Bytes(), plugin.ErrABI, "no name or kind"},
		{"trap in describe", trapInDescribe.Bytes(), plugin.ErrTrap, "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := h.Load(context.Background(), "bad", tc.wasm, plugin.Manifest{})
			if err == nil {
				p.Close(context.Background())
				t.Fatal("loaded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.words) || !strings.HasPrefix(err.Error(), "plugin bad: ") {
				t.Fatalf("err = %v; want %v mentioning %q", err, tc.is, tc.words)
			}
			t.Log(err)
		})
	}
	// The raw plugin itself loads: the refusals above are for what they
	// lack, not for how they were written.
	p, err := h.Load(context.Background(), "raw", wasmgen.Plugin(valid, "").Bytes(), plugin.Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	res, err := p.Validate(context.Background(), []byte("{}"), [][]byte{[]byte("a"), []byte("b")})
	if err != nil || len(res) != 2 || !res[0].OK() || !res[1].OK() {
		t.Fatalf("raw validate = %v, %v", res, err)
	}
}

func TestLoadNameAndManifestChecks(t *testing.T) {
	h, _ := testHost(t)
	raw := wasmgen.Plugin(wasmgen.Desc("raw", "validator", 1), "").Bytes()
	for _, tc := range []struct {
		name  string
		m     plugin.Manifest
		words string
	}{
		{"Bad Name", plugin.Manifest{}, "a plugin name is"},
		{"ok", plugin.Manifest{MemoryPages: 70000}, "memory_pages"},
		{"ok", plugin.Manifest{AllowedHosts: []string{"http://x"}}, "allowed_hosts"},
		{"ok", plugin.Manifest{AllowedPaths: []string{"relative/dir"}}, "must be absolute"},
		{"ok", plugin.Manifest{SHA256: strings.Repeat("0", 64)}, "does not match"},
		{"ok", plugin.Manifest{MemoryPages: 1}, "memory_pages is 1"},
	} {
		p, err := h.Load(context.Background(), tc.name, raw, tc.m)
		if err == nil {
			p.Close(context.Background())
			t.Errorf("%s %+v: loaded", tc.name, tc.m)
			continue
		}
		if !strings.Contains(err.Error(), tc.words) {
			t.Errorf("%s %+v: %v; want %q", tc.name, tc.m, err, tc.words)
		}
	}
}

// A restart reads the rewritten module and the compiled code from the
// cache; a damaged cache entry costs a rewrite, not the plugin.
func TestCacheSurvivesRestartAndDamage(t *testing.T) {
	dir := t.TempDir()
	raw := wasmgen.Plugin(wasmgen.Desc("raw", "validator", 1), "").Bytes()
	loadIn := func() *plugin.Plugin {
		h, err := plugin.NewHost(plugin.Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		p, err := h.Load(context.Background(), "raw", raw, plugin.Manifest{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	loadIn()
	entries, _ := filepath.Glob(filepath.Join(dir, "trellis-instrumented-*", "*.wasm"))
	if len(entries) != 1 {
		t.Fatalf("cache entries %v", entries)
	}
	loadIn()
	if err := os.WriteFile(entries[0], append(bytes.Repeat([]byte{0xff}, len(raw)), 0), 0o640); err != nil {
		t.Fatal(err)
	}
	p := loadIn()
	if _, err := p.Validate(context.Background(), []byte("{}"), [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
}
