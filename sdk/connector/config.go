package connector

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is a connector's open config: a JSON object with the defaults of
// Info.Config filled in.
type Config struct {
	values map[string]any
	raw    []byte
}

// parseConfig decodes and checks an open config against the declared keys.
func parseConfig(doc []byte, keys []ConfigKey) (Config, error) {
	values := map[string]any{}
	if len(strings.TrimSpace(string(doc))) > 0 {
		if err := json.Unmarshal(doc, &values); err != nil {
			return Config{}, fmt.Errorf("config: not a JSON object: %w", err)
		}
	}
	if len(keys) > 0 {
		known := map[string]bool{}
		for _, k := range keys {
			if k.Scope != "" && k.Scope != "open" {
				continue
			}
			known[k.Name] = true
			if _, ok := values[k.Name]; ok {
				continue
			}
			if k.Required {
				return Config{}, fmt.Errorf("config: %s is required", k.Name)
			}
			if k.Default != nil {
				values[k.Name] = k.Default
			}
		}
		var unknown []string
		for name := range values {
			if !known[name] {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return Config{}, fmt.Errorf("config: unknown key %s", strings.Join(unknown, ", "))
		}
	}
	return Config{values: values, raw: doc}, nil
}

// Has reports whether key is set (or defaulted).
func (c Config) Has(key string) bool { _, ok := c.values[key]; return ok }

// Raw is the config document as the host sent it.
func (c Config) Raw() []byte { return c.raw }

// String returns a string value ("" when absent; numbers and booleans are
// formatted).
func (c Config) String(key string) string {
	switch v := c.values[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Int returns an integer value (0 when absent), accepting a number or a
// numeric string.
func (c Config) Int(key string) (int, error) {
	switch v := c.values[key].(type) {
	case nil:
		return 0, nil
	case float64:
		if v != float64(int(v)) {
			return 0, fmt.Errorf("config: %s: %v is not an integer", key, v)
		}
		return int(v), nil
	case string:
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("config: %s: %q is not an integer", key, v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("config: %s: not an integer", key)
}

// Bool returns a boolean value (false when absent).
func (c Config) Bool(key string) (bool, error) {
	switch v := c.values[key].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("config: %s: %q is not a boolean", key, v)
		}
		return b, nil
	}
	return false, fmt.Errorf("config: %s: not a boolean", key)
}

// Duration returns a duration given as a Go duration string ("5s") or a
// number of milliseconds (0 when absent).
func (c Config) Duration(key string) (time.Duration, error) {
	switch v := c.values[key].(type) {
	case nil:
		return 0, nil
	case float64:
		return time.Duration(v * float64(time.Millisecond)), nil
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("config: %s: %q is not a duration", key, v)
		}
		return d, nil
	}
	return 0, fmt.Errorf("config: %s: not a duration", key)
}

// Strings returns a list of strings (nil when absent).
func (c Config) Strings(key string) ([]string, error) {
	switch v := c.values[key].(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("config: %s: not a list of strings", key)
			}
			out = append(out, s)
		}
		return out, nil
	case string:
		return []string{v}, nil
	}
	return nil, fmt.Errorf("config: %s: not a list of strings", key)
}

// Decode unmarshals the config (with defaults) into v, a pointer to a
// struct with json tags.
func (c Config) Decode(v any) error {
	b, err := json.Marshal(c.values)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
