package config

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// modulesKey and manifestsKey are the open-ended sections: their sub-keys
// are module and plugin names the loader cannot know, so they are handled
// apart from the fixed keys.
const (
	modulesKey   = "modules"
	manifestsKey = "plugins.manifests"
)

var durationType = reflect.TypeOf(time.Duration(0))

// leaf is one fixed config key: its Go type and where it lives in Config.
type leaf struct {
	typ   reflect.Type
	index []int
}

// keySchema is the set of known keys, derived from Config's koanf tags so the
// loader, the environment mapping and the struct cannot drift apart.
type keySchema struct {
	leaves   map[string]leaf
	sections map[string]bool   // "http", "http.tls", "modules", ...
	env      map[string]string // TRELLIS_HTTP_ADDR -> http.addr
}

var schema = buildSchema(reflect.TypeOf(Config{}))

func buildSchema(t reflect.Type) *keySchema {
	s := &keySchema{
		leaves:   map[string]leaf{},
		sections: map[string]bool{},
		env:      map[string]string{},
	}
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := tagName(f)
			if name == "" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			idx := append(slices.Clone(index), i)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				s.sections[key] = true
				walk(f.Type, key, idx)
			case f.Type.Kind() == reflect.Map:
				s.sections[key] = true
			default:
				s.leaves[key] = leaf{typ: f.Type, index: idx}
				s.env[envName(key)] = key
			}
		}
	}
	walk(t, "", nil)
	return s
}

// tagName is a field's koanf key, or "" for fields the loader ignores.
func tagName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// envName is the environment variable that sets key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// knownKeys lists the fixed keys in order, for hints and tests.
func knownKeys() []string {
	keys := make([]string, 0, len(schema.leaves))
	for k := range schema.leaves {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flatten turns c into flat key -> value pairs, the form the loader merges.
func flatten(c Config) map[string]any {
	out := make(map[string]any, len(schema.leaves)+2*len(c.Modules))
	rv := reflect.ValueOf(c)
	for key, l := range schema.leaves {
		out[key] = rv.FieldByIndex(l.index).Interface()
	}
	for name, m := range c.Modules {
		out[modulesKey+"."+name+".enabled"] = m.Enabled
		for k, v := range m.Options {
			out[modulesKey+"."+name+"."+k] = v
		}
	}
	delete(out, manifestsKey)
	for name, m := range c.Plugins.Manifests {
		out[manifestsKey+"."+name] = map[string]any{}
		for k, v := range m {
			out[manifestsKey+"."+name+"."+k] = v
		}
	}
	return out
}

// splitManifestKey splits "plugins.manifests.<name>[.<rest>]"; ok is false
// when key is not under plugins.manifests or has an empty segment.
func splitManifestKey(key string) (name, rest string, ok bool) {
	return splitOpenKey(manifestsKey, key)
}

// splitModuleKey splits "modules.<name>[.<rest>]". ok is false when key is
// not under modules or has an empty segment.
func splitModuleKey(key string) (name, rest string, ok bool) {
	return splitOpenKey(modulesKey, key)
}

// splitOpenKey splits "<section>.<name>[.<rest>]" for an open-ended
// section.
func splitOpenKey(section, key string) (name, rest string, ok bool) {
	after, found := strings.CutPrefix(key, section+".")
	if !found {
		return "", "", false
	}
	name, rest, _ = strings.Cut(after, ".")
	if name == "" || slices.Contains(strings.Split(after, "."), "") {
		return "", "", false
	}
	return name, rest, true
}

// suggest names the known key closest to an unknown one, for "did you mean".
func suggest(unknown string, known []string) string {
	if len(unknown) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(unknown, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
