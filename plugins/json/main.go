// Command json is the JSON Schema validator plugin Trellis ships: it checks
// JSON payloads against a JSON Schema (drafts 4, 6, 7, 2019-09 and
// 2020-12, by the schema's $schema; 2020-12 when it names none).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o json.wasm .
// (make build writes bin/plugins/json.wasm).
//
// A schema must be self-contained: $ref to another document resolves only
// within the schema itself, since a plugin has no filesystem or network
// unless granted and a validator should not fetch schemas while validating.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/trellis-cp/trellis/plugins/json/internal/jsonschema"
	"github.com/trellis-cp/trellis/plugins/json/internal/jsonschema/kind"

	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{
		Name:    "json",
		Version: "1.0.0",
		Description: "Validates JSON payloads against a JSON Schema (drafts 4 to 2020-12); " +
			"$ref resolves only within the schema.",
	}, compile)
}

// schemaURL names the schema document for the compiler; nothing is fetched.
const schemaURL = "trellis:///schema.json"

// noLoader refuses external references with a message saying why.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external $ref %s: a schema must be self-contained", url)
}

func compile(schema []byte) (validator.Schema, error) {
	return compileWith(schema, true)
}

// compileWith compiles schema with the fast path (fast.go) when withFast
// and the schema allows one; without, for tests and benchmarks.
func compileWith(schema []byte, withFast bool) (validator.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("schema: %v", oneLine(err))
	}
	var fast *fastSchema
	if withFast {
		fast = compileFast(doc)
	}
	return validator.SchemaFunc(func(payload []byte) error {
		if fast.surelyValid(payload) {
			return nil // the library would say so too, at many times the cost
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("payload is not JSON: %v", err)
		}
		if err := sch.Validate(v); err != nil {
			return errors.New(oneLine(err))
		}
		return nil
	}), nil
}

// printer formats the library's messages in English, as the
// message.NewPrinter(language.English) of golang.org/x/text did; see
// kind.Printer.
var printer = &kind.Printer{}

// oneLine flattens the library's indented multi-line messages.
func oneLine(err error) string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		// The leaves say what failed where; the root only repeats the URL.
		var parts []string
		var walk func(e *jsonschema.ValidationError)
		walk = func(e *jsonschema.ValidationError) {
			if len(e.Causes) == 0 {
				loc := "/" + strings.Join(e.InstanceLocation, "/")
				parts = append(parts, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(printer)))
				return
			}
			for _, c := range e.Causes {
				walk(c)
			}
		}
		walk(ve)
		return strings.Join(parts, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func main() {}
