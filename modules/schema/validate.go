package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/robustmq"
)

// protobufType is the shipped validator that takes a message name.
const protobufType = "protobuf"

// compileInput is what a schema's validator compiles: the schema text, or
// for a protobuf schema naming its message the envelope
// {"proto": source, "message": name} the protobuf plugin documents.
func compileInput(rec record) []byte {
	if rec.Message == "" {
		return []byte(rec.Schema)
	}
	b, _ := json.Marshal(struct {
		Proto   string `json:"proto"`
		Message string `json:"message"`
	}{rec.Schema, rec.Message})
	return b
}

// checkType reports a schema_type that names no loaded validator plugin.
func (m *Module) checkType(name string) error {
	p := m.plugins.Get(name)
	if p == nil {
		return robustmq.Invalid("schema_type", "unknown schema type %q: no validator plugin of that name is loaded (loaded validators: %s)",
			name, strings.Join(m.validators(), ", "))
	}
	if p.Kind() != plugin.KindValidator {
		return robustmq.Invalid("schema_type", "plugin %q is a %s, not a validator", name, p.Kind())
	}
	return nil
}

// validators lists the loaded validator plugins: the schema types.
func (m *Module) validators() []string {
	var out []string
	for _, p := range m.plugins.List() {
		if p.Kind() == plugin.KindValidator {
			out = append(out, p.Name())
		}
	}
	sort.Strings(out)
	return out
}

// compile has the schema's validator compile it: a schema that does not
// compile is a 400 carrying the validator's message.
func (m *Module) compile(ctx context.Context, rec record) error {
	p, release, err := m.plugins.Acquire(rec.Type)
	if err != nil {
		return robustmq.Invalid("schema_type", "validator %q is not loaded", rec.Type)
	}
	defer release()
	err = p.CheckSchema(ctx, compileInput(rec))
	var ge *plugin.GuestError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ge):
		return robustmq.Invalid("schema", "the %s validator does not accept this schema: %s", rec.Type, ge.Msg)
	default:
		return unavailable(rec.Type, err)
	}
}

// unavailable is a validator that could not answer at all (timed out,
// trapped, closed): 503, the caller may retry.
func unavailable(typ string, err error) *apierr.Error {
	return apierr.Errorf(http.StatusServiceUnavailable, apierr.CodeUnavailable,
		"validator %q could not answer: %v", typ, err)
}

// ValidateSchema checks payload against one schema of tenant.
func (m *Module) ValidateSchema(ctx context.Context, tenant, name string, payload []byte) (Verdict, error) {
	rec, _, err := m.getSchema(ctx, tenant, name)
	if err != nil {
		return Verdict{}, err
	}
	return m.check(ctx, []bound{{rec: rec}}, payload), nil
}

// ValidateTopic checks payload against every schema bound to topic in
// tenant, directly or through a matching filter: a publish must pass them
// all. With nothing bound the payload is valid.
func (m *Module) ValidateTopic(ctx context.Context, tenant, topic string, payload []byte) (Verdict, error) {
	bs, err := m.listBindings(ctx, tenant, "")
	if err != nil {
		return Verdict{}, err
	}
	var todo []bound
	seen := map[string]bool{}
	for _, b := range bs {
		if seen[b.Schema] || !matches(b.Resource, topic) {
			continue
		}
		seen[b.Schema] = true
		rec, _, err := m.getSchema(ctx, tenant, b.Schema)
		if err != nil {
			return Verdict{}, fmt.Errorf("schema %q bound to %q: %w", b.Schema, b.Resource, err)
		}
		todo = append(todo, bound{rec: rec, resource: b.Resource})
	}
	return m.check(ctx, todo, payload), nil
}

// bound is a schema to check and the binding that brought it in.
type bound struct {
	rec      record
	resource string
}

// check runs payload through each schema's validator. A validator that
// cannot judge (missing, timed out, failed) fails the payload as
// undecided: a publish is never let through unchecked.
func (m *Module) check(ctx context.Context, todo []bound, payload []byte) Verdict {
	v := Verdict{Valid: true, Errors: []Failure{}, Checked: []string{}}
	for _, b := range todo {
		v.Checked = append(v.Checked, b.rec.Name)
		f := Failure{Schema: b.rec.Name, Type: b.rec.Type, Resource: b.resource}
		msg, undecided := m.validateOne(ctx, b.rec, payload)
		if msg == "" {
			continue
		}
		f.Message, f.Undecided = msg, undecided
		v.Valid = false
		v.Errors = append(v.Errors, f)
	}
	return v
}

// validateOne returns "" for a valid payload, else why not and whether
// the validator could not judge it at all.
func (m *Module) validateOne(ctx context.Context, rec record, payload []byte) (string, bool) {
	p, release, err := m.plugins.Acquire(rec.Type)
	if err != nil {
		return fmt.Sprintf("validator %q is not loaded", rec.Type), true
	}
	defer release()
	res, err := p.Validate(ctx, compileInput(rec), [][]byte{payload})
	var ge *plugin.GuestError
	switch {
	case errors.As(err, &ge):
		return fmt.Sprintf("validator %q no longer accepts the schema: %s", rec.Type, ge.Msg), true
	case err != nil:
		return fmt.Sprintf("validator %q could not answer: %v", rec.Type, err), true
	case len(res) != 1:
		return fmt.Sprintf("validator %q answered %d results for one payload", rec.Type, len(res)), true
	case res[0].Outcome == plugin.Valid:
		return "", false
	case res[0].Outcome == plugin.Undecided:
		return res[0].Message, true
	}
	return res[0].Message, false
}
