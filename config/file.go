package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// parsers maps config file extensions to koanf parsers.
var parsers = map[string]koanf.Parser{
	".yaml": yaml.Parser(),
	".yml":  yaml.Parser(),
	".toml": toml.Parser(),
	".json": json.Parser(),
}

// loadFile reads, parses and checks a config file; "" means none.
func loadFile(path string) (layer, error) {
	if path == "" {
		return newLayer(), nil
	}
	ext := strings.ToLower(filepath.Ext(path))
	parser, ok := parsers[ext]
	if !ok {
		return layer{}, fmt.Errorf("config: %s: unknown config format %q (want .yaml, .yml, .toml or .json)",
			show(path), ext)
	}
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		return layer{}, fmt.Errorf("config: %w", pathError("read", path, err))
	}
	raw, err := parser.Unmarshal(b)
	if err != nil {
		return layer{}, fmt.Errorf("config: parse %s: %w", show(path), lineError{err})
	}
	fk := koanf.New(".")
	if err := fk.Load(confmap.Provider(raw, ""), nil); err != nil {
		return layer{}, fmt.Errorf("config: parse %s: %w", show(path), lineError{err})
	}
	return checkLayer(fk.All(), source{
		where:  func(key string) string { return show(path) + ": " + show(key) },
		origin: func(string) string { return show(path) },
	})
}

// pathError renders a file error as "read PATH: reason" whatever operation
// os reported ("open", "read"), keeping the cause (fs.ErrNotExist,
// fs.ErrPermission) for errors.Is.
func pathError(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", op, show(path), err)
}
