package plugin

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/core/plugin/internal/interrupt"
	"github.com/trellis-cp/trellis/sdk/abi"
)

// Description is a plugin's account of itself (trellis_v1_describe).
type Description = abi.Description

// Kind is connector or validator.
type Kind = abi.Kind

// The plugin kinds.
const (
	KindConnector = abi.KindConnector
	KindValidator = abi.KindValidator
)

// wasiModule is the only import module besides the host's: Go's wasip1
// runtime needs clocks, random bytes, stdout/stderr and exit. No
// filesystem is mounted, so WASI grants no file access.
const wasiModule = "wasi_snapshot_preview1"

var otherABI = regexp.MustCompile(`^trellis_v([0-9]+)(_|$)`)

// checkImports refuses a module that imports anything the host does not
// provide, naming it, before wazero's less specific link error.
func checkImports(cm wazero.CompiledModule) error {
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch {
		case mod == wasiModule:
		case mod == interrupt.TickModule && name == interrupt.TickName &&
			len(def.ParamTypes()) == 0 && len(def.ResultTypes()) == 0:
			// Added by Load (internal/interrupt); a module cannot import it
			// itself, Instrument refuses that.
		case mod == abi.HostModule:
			want, ok := hostSignatures[name]
			if !ok {
				return fmt.Errorf("%w: imports %s.%s, which this host does not provide (plugin built with a newer SDK?)", ErrABI, mod, name)
			}
			if !sameTypes(def.ParamTypes(), want.params) || !sameTypes(def.ResultTypes(), want.results) {
				return fmt.Errorf("%w: imports %s.%s with signature %s, the host's is %s", ErrABI, mod, name,
					sig(def.ParamTypes(), def.ResultTypes()), sig(want.params, want.results))
			}
		default:
			if m := otherABI.FindStringSubmatch(mod); m != nil {
				return fmt.Errorf("%w: imports host module %s: built for ABI v%s, this host speaks v%d", ErrABI, mod, m[1], abi.Version)
			}
			return fmt.Errorf("%w: imports %s.%s; a plugin may import only %s and %s", ErrABI, mod, name, abi.HostModule, wasiModule)
		}
	}
	for _, def := range cm.ImportedMemories() {
		mod, name, _ := def.Import()
		return fmt.Errorf("%w: imports memory %s.%s; a plugin must define and export its own memory", ErrABI, mod, name)
	}
	return nil
}

// checkExports refuses a module without the common exports, saying so
// when it looks like a plugin for another ABI version.
func checkExports(cm wazero.CompiledModule) error {
	fns := cm.ExportedFunctions()
	if _, ok := fns[abi.ExportDescribe]; !ok {
		var versions []string
		for name := range fns {
			if m := otherABI.FindStringSubmatch(name); m != nil && m[1] != fmt.Sprint(abi.Version) {
				versions = append(versions, "v"+m[1])
			}
		}
		if len(versions) > 0 {
			sort.Strings(versions)
			return fmt.Errorf("%w: exports trellis_%s_* functions: built for ABI %s, this host speaks v%d", ErrABI,
				versions[0], versions[0], abi.Version)
		}
		return fmt.Errorf("%w: missing export %s (is this a Trellis plugin? build it with the SDK and -buildmode=c-shared)", ErrABI, abi.ExportDescribe)
	}
	if err := checkFuncs(fns, abi.CommonExports); err != nil {
		return err
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("%w: missing export %q (memory)", ErrABI, abi.ExportMemory)
	}
	return nil
}

// checkKind checks the kind-specific exports once the description is known.
func checkKind(cm wazero.CompiledModule, k abi.Kind) error {
	req := abi.RequiredExports(k)
	if req == nil {
		return fmt.Errorf("%w: describes itself as kind %q; this host runs %s and %s", ErrABI, k, abi.KindConnector, abi.KindValidator)
	}
	if err := checkFuncs(cm.ExportedFunctions(), req); err != nil {
		return fmt.Errorf("%w (kind %s)", err, k)
	}
	return nil
}

func checkFuncs(fns map[string]api.FunctionDefinition, names []string) error {
	for _, name := range names {
		def, ok := fns[name]
		if !ok {
			return fmt.Errorf("%w: missing export %s", ErrABI, name)
		}
		want := exportSignatures[name]
		if !sameTypes(def.ParamTypes(), want.params) || !sameTypes(def.ResultTypes(), want.results) {
			return fmt.Errorf("%w: export %s has signature %s, ABI v%d says %s", ErrABI, name,
				sig(def.ParamTypes(), def.ResultTypes()), abi.Version, sig(want.params, want.results))
		}
	}
	return nil
}

type signature struct{ params, results []api.ValueType }

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
	f64 = api.ValueTypeF64
)

var exportSignatures = map[string]signature{
	abi.ExportDescribe:          {nil, []api.ValueType{i64}},
	abi.ExportAlloc:             {[]api.ValueType{i32}, []api.ValueType{i32}},
	abi.ExportFree:              {[]api.ValueType{i32}, nil},
	abi.ExportConnectorOpen:     {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
	abi.ExportConnectorWrite:    {[]api.ValueType{i32, i32, i32}, []api.ValueType{i64}},
	abi.ExportConnectorClose:    {[]api.ValueType{i32}, []api.ValueType{i64}},
	abi.ExportValidatorCompile:  {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
	abi.ExportValidatorValidate: {[]api.ValueType{i32, i32, i32}, []api.ValueType{i64}},
	abi.ExportValidatorRelease:  {[]api.ValueType{i32}, []api.ValueType{i64}},
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sig(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(params) + ") -> (" + names(results) + ")"
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// parseDescription decodes and checks trellis_v1_describe's answer.
func parseDescription(b []byte) (Description, error) {
	var d Description
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%w: %s is not JSON: %v", ErrABI, abi.ExportDescribe, err)
	}
	if d.ABIVersion != abi.Version {
		return d, fmt.Errorf("%w: describes abi_version %d, this host speaks v%d", ErrABI, d.ABIVersion, abi.Version)
	}
	if d.Name == "" || d.Kind == "" {
		msg := "its description has no name or kind"
		if d.Description != "" {
			msg += " (" + d.Description + ")"
		}
		return d, fmt.Errorf("%w: %s", ErrABI, msg)
	}
	if !validName.MatchString(d.Name) {
		return d, fmt.Errorf("%w: describes itself as %q; a plugin name is [a-z0-9_-], at most 64 bytes", ErrABI, d.Name)
	}
	return d, nil
}
