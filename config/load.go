package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// Load builds the configuration from, in rising precedence, Defaults(), the
// file named by --config, TRELLIS_* variables in environ and the flags the
// user set in flags (see RegisterFlags), then validates it. environ is
// passed in (os.Environ() in production) so tests need not touch the process
// environment. flags may be nil.
//
// Each source is checked on its own before merging, so an unknown key or a
// wrong type is reported against the file, variable or flag that holds it.
// Module names are not checked here: the node calls CheckModules with its
// registry.
func Load(flags *pflag.FlagSet, environ []string) (*Config, error) {
	ko := koanf.New(".")
	origin := map[string]string{} // key -> the non-default source that set it
	merge := func(l layer) error {
		if err := ko.Load(confmap.Provider(l.values, "."), nil); err != nil {
			return fmt.Errorf("config: merge: %w", err)
		}
		maps.Copy(origin, l.origin)
		return nil
	}

	if err := merge(layer{values: flatten(Defaults())}); err != nil {
		return nil, err
	}
	modules := slices.Clone(defaultModules)
	if path := configPath(flags); path != "" {
		l, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		modules = append(modules, l.modules()...)
		if err := merge(l); err != nil {
			return nil, err
		}
	}
	envL, err := envLayer(environ, modules)
	if err != nil {
		return nil, err
	}
	if err := merge(envL); err != nil {
		return nil, err
	}
	flagL, err := flagLayer(flags)
	if err != nil {
		return nil, err
	}
	if err := merge(flagL); err != nil {
		return nil, err
	}

	c, err := decode(ko)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) && ke.origin(origin) != "" {
			return nil, fmt.Errorf("%w (set by %s)", err, ke.origin(origin))
		}
		return nil, err
	}
	return c, nil
}

// decode unmarshals the merged, already type-checked layers into a Config.
// ErrorUnused and exact name matching are a safety net: every key was
// checked against the schema, so a failure here is a bug in this package.
func decode(ko *koanf.Koanf) (*Config, error) {
	var c Config
	err := ko.UnmarshalWithConf("", &c, koanf.UnmarshalConf{
		DecoderConfig: &mapstructure.DecoderConfig{
			TagName:     "koanf",
			ErrorUnused: true,
			MatchName:   func(mapKey, fieldName string) bool { return mapKey == fieldName },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("config: decode: %w", lineError{err})
	}
	for name, m := range c.Modules {
		if len(m.Options) == 0 {
			m.Options = nil
			c.Modules[name] = m
		}
	}
	return &c, nil
}

// layer is one source's settings after key and type checks: flat key ->
// typed value (module options stay raw), and for each key the variable or
// flag it came from, so validation errors can point at it.
type layer struct {
	values map[string]any
	origin map[string]string
}

func newLayer() layer {
	return layer{values: map[string]any{}, origin: map[string]string{}}
}

// modules lists the module names the layer has sections for.
func (l layer) modules() []string {
	var names []string
	for key := range l.values {
		if name, _, ok := splitModuleKey(key); ok && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// source describes where a flat map came from, for error messages.
type source struct {
	// text is true when every value is a string to parse (environment, flags).
	text bool
	// where names a key in errors: "/etc/trellis.yaml: http.addr" or
	// "environment: TRELLIS_HTTP_ADDR (http.addr)".
	where func(key string) string
	// origin names the setting for "(set by ...)" suffixes.
	origin func(key string) string
}

// checkLayer checks every flat key of one source against the schema and
// converts its value to the key's type; the first problem, in key order, is
// the error.
func checkLayer(flat map[string]any, src source) (layer, error) {
	l := newLayer()
	for _, key := range slices.Sorted(maps.Keys(flat)) {
		v := flat[key]
		set := func(val any) {
			l.values[key] = val
			l.origin[key] = src.origin(key)
		}
		if lf, ok := schema.leaves[key]; ok {
			if v == nil { // "addr:" with no value: as if absent
				continue
			}
			tv, err := convert(lf.typ, v, src.text)
			if err != nil {
				return l, fmt.Errorf("config: %s: %w", src.where(key), err)
			}
			set(tv)
			continue
		}
		if schema.sections[key] {
			if isEmptySection(v) {
				continue
			}
			return l, fmt.Errorf("config: %s: is a section, not a value (it holds keys such as %s)",
				src.where(key), sectionExample(key))
		}
		_, rest, ok := splitModuleKey(key)
		switch {
		case !ok:
			return l, fmt.Errorf("config: %s: unknown key%s", src.where(key), suggest(key, knownKeys()))
		case rest == "":
			if !isEmptySection(v) {
				return l, fmt.Errorf("config: %s: want a section (enabled and the module's own keys), got %s",
					src.where(key), describeValue(v))
			}
			set(map[string]any{})
		case rest == "enabled":
			if v == nil {
				continue
			}
			tv, err := convert(reflect.TypeFor[bool](), v, src.text)
			if err != nil {
				return l, fmt.Errorf("config: %s: %w", src.where(key), err)
			}
			set(tv)
		default:
			// A module's own key: only the module knows its type, so it is
			// kept raw for DecodeModuleOptions.
			set(v)
		}
	}
	return l, nil
}

func isEmptySection(v any) bool {
	m, isMap := v.(map[string]any)
	return v == nil || (isMap && len(m) == 0)
}

// sectionExample names the first key inside a section, for hints.
func sectionExample(section string) string {
	if section == modulesKey {
		return "modules.kv.enabled"
	}
	for _, k := range knownKeys() {
		if strings.HasPrefix(k, section+".") {
			return k
		}
	}
	return section + ".*"
}

// parsers maps config file extensions to koanf parsers.
var parsers = map[string]koanf.Parser{
	".yaml": yaml.Parser(),
	".yml":  yaml.Parser(),
	".toml": toml.Parser(),
	".json": json.Parser(),
}

// loadFile reads, parses and checks a config file.
func loadFile(path string) (layer, error) {
	ext := strings.ToLower(filepath.Ext(path))
	parser, ok := parsers[ext]
	if !ok {
		return layer{}, fmt.Errorf("config: %s: unknown config format %q (want .yaml, .yml, .toml or .json)", path, ext)
	}
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		return layer{}, fileError("read", path, err)
	}
	raw, err := parser.Unmarshal(b)
	if err != nil {
		return layer{}, fmt.Errorf("config: parse %s: %w", path, lineError{err})
	}
	fk := koanf.New(".")
	if err := fk.Load(confmap.Provider(raw, ""), nil); err != nil {
		return layer{}, fmt.Errorf("config: parse %s: %w", path, lineError{err})
	}
	return checkLayer(fk.All(), source{
		where:  func(key string) string { return path + ": " + key },
		origin: func(string) string { return path },
	})
}

// fileError reports a failed file operation as "config: read PATH: reason",
// keeping the cause (fs.ErrNotExist, fs.ErrPermission) for errors.Is.
func fileError(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("config: %s %s: %w", op, path, err)
}
