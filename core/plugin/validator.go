package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// Outcome is one payload's validation verdict.
type Outcome uint8

// The verdicts.
const (
	// Valid: the payload satisfies the schema.
	Valid Outcome = Outcome(abi.VerdictValid)
	// Invalid: it does not; Result.Message says why.
	Invalid Outcome = Outcome(abi.VerdictInvalid)
	// Undecided: the validator could not judge it (not implemented yet, or
	// an internal error); Result.Message says why.
	Undecided Outcome = Outcome(abi.VerdictError)
)

func (o Outcome) String() string {
	switch o {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	case Undecided:
		return "undecided"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result is one payload's verdict.
type Result struct {
	Outcome Outcome
	Message string
}

// OK reports a valid payload.
func (r Result) OK() bool { return r.Outcome == Valid }

// maxSchemasPerInstance bounds the compiled schemas an instance keeps;
// past it the instance releases them all and starts over.
const maxSchemasPerInstance = 128

// Validate checks payloads against schema in one call into a validator
// plugin and returns one result per payload, in order.
//
// The schema is compiled at most once per instance and kept (keyed by its
// bytes), so callers pass the schema document each time and never manage
// handles; a schema that does not compile is a *GuestError from op
// "compile".
func (p *Plugin) Validate(ctx context.Context, schema []byte, payloads [][]byte) ([]Result, error) {
	if err := p.checkKind(abi.KindValidator); err != nil {
		return nil, err
	}
	var results []Result
	err := p.run(ctx, func(in *instance) error {
		h, err := in.schemaHandle(ctx, schema)
		if err != nil {
			return err
		}
		start := time.Now()
		results, err = in.validate(ctx, h, payloads)
		observe(p.mValidate, start, len(payloads), err)
		return err
	})
	return results, err
}

// CheckSchema compiles schema on one instance and reports whether the
// plugin accepts it (a *GuestError says why not).
func (p *Plugin) CheckSchema(ctx context.Context, schema []byte) error {
	if err := p.checkKind(abi.KindValidator); err != nil {
		return err
	}
	return p.run(ctx, func(in *instance) error {
		_, err := in.schemaHandle(ctx, schema)
		return err
	})
}

// schemaHandle returns this instance's handle for schema, compiling it the
// first time.
func (in *instance) schemaHandle(ctx context.Context, schema []byte) (uint32, error) {
	if h, ok := in.schemas[string(schema)]; ok {
		return h, nil
	}
	if len(in.schemas) >= maxSchemasPerInstance {
		for _, h := range in.schemas {
			in.stack[0] = uint64(h)
			if err := in.call(ctx, "release", in.fn.release, in.stack[:1]); err != nil {
				return 0, err
			}
		}
		clear(in.schemas)
	}
	start := time.Now()
	h, err := in.compileSchema(ctx, schema)
	observe(in.p.mCompile, start, 0, err)
	if err != nil {
		return 0, err
	}
	if in.schemas == nil {
		in.schemas = map[string]uint32{}
	}
	in.schemas[string(schema)] = h
	return h, nil
}

func (in *instance) compileSchema(ctx context.Context, schema []byte) (uint32, error) {
	ptr, err := in.input(ctx, "compile", schema)
	if err != nil {
		return 0, err
	}
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(schema))
	if err := in.call(ctx, "compile", in.fn.compile, in.stack[:2]); err != nil {
		return 0, err
	}
	status, payload, err := in.response("compile", in.stack[0])
	if err != nil {
		return 0, err
	}
	if status == abi.StatusError {
		return 0, in.guestError("compile", payload)
	}
	rd := abi.NewReader(payload)
	h := rd.U32()
	if rd.Err != nil {
		return 0, in.protocol("compile", "response without a handle")
	}
	return h, nil
}

func (in *instance) validate(ctx context.Context, h uint32, payloads [][]byte) ([]Result, error) {
	in.batch.Reset()
	size := 0
	for _, pl := range payloads {
		size += 4 + len(pl)
	}
	in.batch.Grow(size)
	for _, pl := range payloads {
		in.batch.AddItem(pl)
	}
	data := in.batch.Bytes()
	ptr, err := in.input(ctx, "validate", data)
	if err != nil {
		return nil, err
	}
	in.stack[0], in.stack[1], in.stack[2] = uint64(h), uint64(ptr), uint64(len(data))
	if err := in.call(ctx, "validate", in.fn.validate, in.stack[:3]); err != nil {
		return nil, err
	}
	status, payload, err := in.response("validate", in.stack[0])
	if err != nil {
		return nil, err
	}
	if status == abi.StatusError {
		return nil, in.guestError("validate", payload)
	}
	verdicts, err := abi.DecodeVerdicts(payload, in.verdicts)
	in.verdicts = verdicts[:0]
	if err != nil {
		return nil, in.protocol("validate", "verdicts: %v", err)
	}
	if len(verdicts) != len(payloads) {
		return nil, in.protocol("validate", "%d verdicts for %d payloads", len(verdicts), len(payloads))
	}
	results := make([]Result, len(verdicts))
	for i, v := range verdicts {
		if v.Code > abi.VerdictError {
			return nil, in.protocol("validate", "verdict %d for payload %d", v.Code, i)
		}
		results[i] = Result{Outcome: Outcome(v.Code), Message: v.Message}
	}
	return results, nil
}
