package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// CheckModules reports a modules.<name> section whose name is not in known,
// the node's module registry. The loader cannot do this itself: modules
// register with the node, not with config.
func (c *Config) CheckModules(known []string) error {
	for _, name := range sortedKeys(c.Modules) {
		if !slices.Contains(known, name) {
			return fmt.Errorf("config: %s.%s: unknown module%s (known: %s)", modulesKey, show(name),
				suggest(name, known), strings.Join(slices.Sorted(slices.Values(known)), ", "))
		}
	}
	return nil
}

// DecodeModuleOptions decodes a module's own keys (ModuleConfig.Options)
// into into, a pointer to the module's defaults struct with koanf tags, so
// keys absent from opts keep their defaults. Decoding is strict: a key the
// struct lacks, or a value of the wrong type, is an error naming
// modules.<module>.<key>. Values may be strings (from TRELLIS_MODULES_*
// variables) and are then parsed: "100", "true", "5s".
func DecodeModuleOptions(module string, opts map[string]any, into any) error {
	return DecodeOptions(modulesKey+"."+module, opts, into)
}

// DecodeManifest decodes plugins.manifests.<plugin> into into (a pointer
// to core/plugin.Manifest, or any struct with koanf tags) with the rules
// of DecodeModuleOptions.
func DecodeManifest(plugin string, opts map[string]any, into any) error {
	return DecodeOptions(manifestsKey+"."+plugin, opts, into)
}

// DecodeOptions decodes the open-ended section at path (such as
// "modules.kv") into into, a pointer to a struct with koanf tags, strictly:
// see DecodeModuleOptions.
func DecodeOptions(path string, opts map[string]any, into any) error {
	prefix := path + "."
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: %s: options decode into a pointer to a struct, not %T", path, into)
	}
	fields := optionFields(rv.Elem().Type())
	for _, key := range sortedKeys(opts) {
		idx, ok := fields[key]
		if !ok {
			return fmt.Errorf("config: %s%s: unknown key%s", prefix, show(key),
				suggest(key, slices.Sorted(maps.Keys(fields))))
		}
		if err := decodeOption(prefix, key, rv.Elem().FieldByIndex(idx), opts[key]); err != nil {
			return err
		}
	}
	return nil
}

// optionFields maps a module struct's keys to fields: the koanf tag, or the
// lower-cased field name when untagged; untagged embedded structs are
// flattened, as mapstructure's squash would.
func optionFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		switch {
		case tag == "-":
			continue
		case tag == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			for k, idx := range optionFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		case tag == "":
			tag = strings.ToLower(f.Name)
		}
		out[tag] = []int{i}
	}
	return out
}

// decodeOption sets one field from opts[key]. Scalars go through convert,
// so they get the same checks and messages as the core keys; composite
// values (lists, nested sections) go through mapstructure, which rejects
// unknown keys and replaces rather than merges lists and maps.
func decodeOption(prefix, key string, field reflect.Value, v any) error {
	if v == nil {
		return nil // "key:" with no value keeps the default
	}
	t := field.Type()
	if isNumber(t.Kind()) || t.Kind() == reflect.String || t.Kind() == reflect.Bool {
		_, isText := v.(string)
		out, err := convert(t, v, isText)
		if err != nil {
			return fmt.Errorf("config: %s%s: %w", prefix, key, err)
		}
		field.Set(reflect.ValueOf(out).Convert(t))
		return nil
	}
	// Decode through a one-field struct tagged with key, so mapstructure's
	// error names the path below the module ("limits.kees").
	wrapper := reflect.New(reflect.StructOf([]reflect.StructField{{
		Name: "V", Type: t, Tag: reflect.StructTag(`koanf:"` + key + `"`),
	}})).Elem()
	wrapper.Field(0).Set(field)
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:          "koanf",
		ErrorUnused:      true,
		ZeroFields:       true,
		WeaklyTypedInput: true,
		MatchName:        func(mapKey, fieldName string) bool { return mapKey == fieldName },
		DecodeHook:       mapstructure.StringToTimeDurationHookFunc(),
		Result:           wrapper.Addr().Interface(),
	})
	if err != nil {
		return fmt.Errorf("config: %s%s: %w", prefix, key, err)
	}
	if err := dec.Decode(map[string]any{key: v}); err != nil {
		var de *mapstructure.DecodeError
		if errors.As(err, &de) && de.Name() != "" {
			return fmt.Errorf("config: %s%s: %w", prefix, de.Name(), lineError{de.Unwrap()})
		}
		return fmt.Errorf("config: %s%s: %w", prefix, key, lineError{err})
	}
	field.Set(wrapper.Field(0))
	return nil
}

// sortedKeys gives map keys in order, so the first error is deterministic.
func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	return slices.Sorted(maps.Keys(m))
}
