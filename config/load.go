package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
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
	fileL, err := loadFile(configPath(flags))
	if err != nil {
		return nil, err
	}
	// Module names in variables are recognised by the modules the defaults
	// and the file have sections for.
	modules := slices.Compact(slices.Sorted(slices.Values(append(fileL.modules(), defaultModules...))))
	envL, err := envLayer(environ, modules)
	if err != nil {
		return nil, err
	}
	flagL, err := flagLayer(flags)
	if err != nil {
		return nil, err
	}

	ko := koanf.New(".")
	origin := map[string]string{} // key -> the non-default source that set it
	for _, l := range []layer{{values: flatten(Defaults())}, fileL, envL, flagL} {
		if err := ko.Load(confmap.Provider(l.values, "."), nil); err != nil {
			return nil, fmt.Errorf("config: merge: %w", err)
		}
		maps.Copy(origin, l.origin)
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
