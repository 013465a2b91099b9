package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

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
		if _, rest, ok := splitManifestKey(key); ok {
			// A plugin's manifest key: the node decodes and checks it.
			if rest == "" && !isEmptySection(v) {
				return l, fmt.Errorf("config: %s: want a section (the plugin's manifest keys), got %s",
					src.where(key), describeValue(v))
			}
			if rest == "" {
				v = map[string]any{}
			}
			set(v)
			continue
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

// show prints a key or path as is, or quoted when it holds characters
// (newlines, controls) that would break the one-line error.
func show(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
