// Package validator is the SDK for schema validator plugins: code that
// checks record payloads against a schema (JSON Schema, Avro, Protobuf...).
//
// An author provides a compile function and registers it from init (main
// never runs in a plugin built with -buildmode=c-shared):
//
//	func init() {
//		validator.Register(validator.Info{Name: "json", ...}, compile)
//	}
//	func compile(schema []byte) (validator.Schema, error) { ... }
//	func main() {}
//
// The host compiles a schema once per instance and then validates batches
// of payloads against the compiled form; the SDK keeps compiled schemas by
// handle until the host releases them.
package validator

import (
	"errors"
	"fmt"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/guest"
)

// Schema is a compiled schema.
type Schema interface {
	// Validate returns nil for a valid payload, and an error saying why
	// otherwise. Wrap the error with Undecided (or return one matching
	// ErrNotImplemented) when the payload could not be judged at all.
	Validate(payload []byte) error
}

// SchemaFunc adapts a function to Schema.
type SchemaFunc func(payload []byte) error

// Validate calls f.
func (f SchemaFunc) Validate(payload []byte) error { return f(payload) }

// ConfigKey documents one config key (read with host.Config).
type ConfigKey = abi.ConfigKey

// Info describes the plugin.
type Info struct {
	Name        string
	Version     string
	Description string
	// Config lists the host config keys (manifest config) the plugin reads.
	Config []ConfigKey
}

// ErrNotImplemented is what a validator that cannot check payloads yet
// returns; such records get an "error" verdict rather than "invalid".
var ErrNotImplemented = errors.New("not implemented yet")

type undecided struct{ err error }

func (u undecided) Error() string { return u.err.Error() }
func (u undecided) Unwrap() error { return u.err }

// Undecided marks err as "could not validate" rather than "invalid".
func Undecided(err error) error { return undecided{err} }

func isUndecided(err error) bool {
	var u undecided
	return errors.As(err, &u) || errors.Is(err, ErrNotImplemented)
}

var (
	compileFn func([]byte) (Schema, error)
	schemas   = map[uint32]Schema{}
	nextID    uint32
)

// Register declares the plugin. Call it once, from init.
func Register(i Info, compile func(schema []byte) (Schema, error)) {
	if compile == nil {
		panic("validator.Register: nil compile function")
	}
	keys := make([]ConfigKey, len(i.Config))
	for n, k := range i.Config {
		if k.Scope == "" {
			k.Scope = "host"
		}
		keys[n] = k
	}
	guest.Register("validator", abi.Description{
		Name: i.Name, Kind: abi.KindValidator, Version: i.Version,
		Description: i.Description, Config: keys,
	})
	compileFn = compile
}

func compile(schema []byte) (handle uint32, err error) {
	if compileFn == nil {
		return 0, errors.New("no validator registered: call validator.Register from init")
	}
	defer guest.Recover(&err)
	// The schema buffer belongs to the host: hand the author a copy they
	// may keep.
	s, err := compileFn(append([]byte(nil), schema...))
	if err != nil {
		return 0, err
	}
	if s == nil {
		return 0, errors.New("compile returned no schema")
	}
	nextID++
	if nextID == 0 {
		nextID = 1
	}
	schemas[nextID] = s
	return nextID, nil
}

// validate checks every payload and appends the verdicts to out.
func validate(handle uint32, batch []byte, out []byte) ([]byte, error) {
	s, ok := schemas[handle]
	if !ok {
		return out, fmt.Errorf("schema handle %d is not compiled", handle)
	}
	br, err := abi.NewBatchReader(batch)
	if err != nil {
		return out, fmt.Errorf("batch: %w", err)
	}
	out = abi.AppendU32(out, uint32(br.Count()))
	for {
		item, ok := br.Next()
		if !ok {
			break
		}
		err := check(s, item)
		switch {
		case err == nil:
			out = abi.AppendVerdict(out, abi.VerdictValid, "")
		case isUndecided(err):
			out = abi.AppendVerdict(out, abi.VerdictError, err.Error())
		default:
			out = abi.AppendVerdict(out, abi.VerdictInvalid, err.Error())
		}
	}
	if err := br.Err(); err != nil {
		return out, fmt.Errorf("batch: %w", err)
	}
	return out, nil
}

// check runs one validation, turning a panic into an undecided verdict.
func check(s Schema, payload []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Undecided(fmt.Errorf("panic: %v", r))
		}
	}()
	return s.Validate(payload)
}

func release(handle uint32) error {
	if _, ok := schemas[handle]; !ok {
		return fmt.Errorf("schema handle %d is not compiled", handle)
	}
	delete(schemas, handle)
	return nil
}
