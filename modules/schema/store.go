package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/trellis-cp/trellis/core/robustmq"
	"github.com/trellis-cp/trellis/core/store"
)

// Store layout (namespace schema): s/<tenant>/<name> holds a record,
// b/<tenant>/<schema>/<resource> a binding; each part is path-escaped, so
// '/' in a name or a topic filter cannot be mistaken for a separator.
const (
	schemaPrefix = "s/"
	bindPrefix   = "b/"
	// casAttempts bounds the retries of a change that lost a race.
	casAttempts = 8
)

func esc(s string) string { return url.PathEscape(s) }

func schemaKey(tenant, name string) string { return schemaPrefix + esc(tenant) + "/" + esc(name) }

func bindKey(tenant, schema, resource string) string {
	return bindPrefix + esc(tenant) + "/" + esc(schema) + "/" + esc(resource)
}

// getSchema reads a schema and its mod revision; a missing one is a 404.
func (m *Module) getSchema(ctx context.Context, tenant, name string) (record, int64, error) {
	kv, err := m.ns.Get(ctx, schemaKey(tenant, name), store.ReadOptions{})
	if errors.Is(err, store.ErrNotFound) {
		return record{}, 0, robustmq.NotFound("schema %q not found in tenant %q", name, tenant)
	}
	if err != nil {
		return record{}, 0, err
	}
	var rec record
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return record{}, 0, fmt.Errorf("schema %s/%s: bad record: %w", tenant, name, err)
	}
	return rec, kv.ModRevision, nil
}

// createSchema stores rec unless the name is taken (409).
func (m *Module) createSchema(ctx context.Context, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	key := schemaKey(rec.Tenant, rec.Name)
	put, err := m.ns.PutOp(key, b, store.PutOptions{})
	if err != nil {
		return err
	}
	res, err := m.ns.Txn(ctx, []store.Compare{m.ns.CmpNumber(key, store.CompareVersion, store.Equal, 0)},
		[]store.Op{put}, nil)
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return robustmq.Conflict("schema %q already exists in tenant %q", rec.Name, rec.Tenant)
	}
	return nil
}

// deleteSchema removes a schema that no binding uses; a bound one is a 409
// naming its bindings.
func (m *Module) deleteSchema(ctx context.Context, tenant, name string) error {
	for range casAttempts {
		rec, rev, err := m.getSchema(ctx, tenant, name)
		if err != nil {
			return err
		}
		if rec.Bindings > 0 {
			bs, err := m.listBindings(ctx, tenant, name)
			if err != nil {
				return err
			}
			res := make([]string, len(bs))
			for i, b := range bs {
				res[i] = b.Resource
			}
			return robustmq.Conflict("schema %q is bound to %s: delete the bindings first",
				name, quoteList(res))
		}
		del, err := m.ns.DeleteOp(schemaKey(tenant, name))
		if err != nil {
			return err
		}
		ok, err := m.txn(ctx, schemaKey(tenant, name), rev, del)
		if err != nil || ok {
			return err
		}
	}
	return robustmq.Conflict("schema %q kept changing during the delete; try again", name)
}

// bind adds (or, with add false, removes) the binding of resource to a
// schema and rewrites the schema's binding count in the same transaction.
func (m *Module) bind(ctx context.Context, tenant, schema, resource string, add bool) error {
	key := bindKey(tenant, schema, resource)
	for range casAttempts {
		rec, rev, err := m.getSchema(ctx, tenant, schema)
		if err != nil {
			return err
		}
		_, err = m.ns.Get(ctx, key, store.ReadOptions{Serializable: true})
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var op store.Op
		switch {
		case add && exists:
			return robustmq.Conflict("schema %q is already bound to %q", schema, resource)
		case !add && !exists:
			return robustmq.NotFound("schema %q is not bound to %q in tenant %q", schema, resource, tenant)
		case add:
			b, _ := json.Marshal(binding{Tenant: tenant, Schema: schema, Resource: resource, Created: m.now()})
			rec.Bindings++
			op, err = m.ns.PutOp(key, b, store.PutOptions{})
		default:
			rec.Bindings--
			op, err = m.ns.DeleteOp(key)
		}
		if err != nil {
			return err
		}
		rb, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		recOp, err := m.ns.PutOp(schemaKey(tenant, schema), rb, store.PutOptions{})
		if err != nil {
			return err
		}
		// The schema's revision guards the binding too: every binding
		// change rewrites the schema record.
		ok, err := m.txn(ctx, schemaKey(tenant, schema), rev, op, recOp)
		if err != nil || ok {
			return err
		}
	}
	return robustmq.Conflict("schema %q kept changing; try again", schema)
}

// txn applies ops if key still has mod revision rev.
func (m *Module) txn(ctx context.Context, key string, rev int64, ops ...store.Op) (bool, error) {
	res, err := m.ns.Txn(ctx, []store.Compare{m.ns.CmpNumber(key, store.CompareModRevision, store.Equal, rev)}, ops, nil)
	if err != nil {
		return false, err
	}
	return res.Succeeded, nil
}

// listSchemas reads every schema of every tenant.
func (m *Module) listSchemas(ctx context.Context) ([]record, error) {
	res, err := m.ns.List(ctx, schemaPrefix, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]record, 0, len(res.KVs))
	for _, kv := range res.KVs {
		var rec record
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return nil, fmt.Errorf("schema record %s: %w", kv.Key, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// listBindings reads the bindings of tenant (every tenant when empty),
// of one schema when schema is set, sorted by schema then resource.
func (m *Module) listBindings(ctx context.Context, tenant, schema string) ([]binding, error) {
	prefix := bindPrefix
	if tenant != "" {
		prefix += esc(tenant) + "/"
		if schema != "" {
			prefix += esc(schema) + "/"
		}
	}
	res, err := m.ns.List(ctx, prefix, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]binding, 0, len(res.KVs))
	for _, kv := range res.KVs {
		var b binding
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("binding record %s: %w", kv.Key, err)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		if out[i].Schema != out[j].Schema {
			return out[i].Schema < out[j].Schema
		}
		return out[i].Resource < out[j].Resource
	})
	return out, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
