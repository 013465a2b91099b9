package schema

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/robustmq"
)

// required reports a field the body left out, as RobustMQ's JSON
// extractor does.
func required(field string) error {
	return apierr.BadRequest("JSON parsing failed: missing field %q", field)
}

func checkTenant(p *string) error {
	if p == nil {
		return required("tenant")
	}
	return robustmq.Length("tenant", "Tenant", *p, 1, maxTenant)
}

func checkSchemaName(p *string) error {
	if p == nil {
		return required("schema_name")
	}
	return robustmq.Length("schema_name", "Schema name", *p, 1, maxSchemaName)
}

func checkResourceName(p *string) error {
	if p == nil {
		return required("resource_name")
	}
	if err := robustmq.Length("resource_name", "Resource name", *p, 1, maxResource); err != nil {
		return err
	}
	if err := checkResource(*p); err != nil {
		return robustmq.Invalid("resource_name", "%v", err)
	}
	return nil
}

func (m *Module) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req createReq
	if err := robustmq.Decode(w, r, &req); err != nil {
		robustmq.Fail(w, err)
		return
	}
	err := robustmq.FirstError(
		checkTenant(req.Tenant),
		checkSchemaName(req.Name),
		func() error {
			if req.Type == nil {
				return required("schema_type")
			}
			return robustmq.Length("schema_type", "Schema type", *req.Type, 1, maxSchemaType)
		}(),
		func() error {
			if req.Schema == nil {
				return required("schema")
			}
			return robustmq.Length("schema", "Schema", *req.Schema, 1, maxSchema)
		}(),
		robustmq.Length("desc", "Description", req.Desc, 0, maxDesc),
		robustmq.Length("message", "Message", req.Message, 0, maxMessage),
	)
	if err == nil && req.Message != "" && *req.Type != protobufType {
		err = robustmq.Invalid("message", "names the protobuf message payloads are encoded as; schema_type %q takes none", *req.Type)
	}
	if err == nil {
		err = m.checkType(*req.Type)
	}
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	rec := record{Tenant: *req.Tenant, Name: *req.Name, Type: *req.Type, Schema: *req.Schema,
		Desc: req.Desc, Message: req.Message, Created: m.now()}
	if err := m.compile(r.Context(), rec); err != nil {
		robustmq.Fail(w, err)
		return
	}
	if err := m.createSchema(r.Context(), rec); err != nil {
		robustmq.Fail(w, err)
		return
	}
	httpx.RobustOK(w, "success")
}

func (m *Module) handleDelete(w http.ResponseWriter, r *http.Request) {
	var req deleteReq
	if err := robustmq.Decode(w, r, &req); err != nil {
		robustmq.Fail(w, err)
		return
	}
	if err := robustmq.FirstError(checkTenant(req.Tenant), checkSchemaName(req.Name)); err != nil {
		robustmq.Fail(w, err)
		return
	}
	if err := m.deleteSchema(r.Context(), *req.Tenant, *req.Name); err != nil {
		robustmq.Fail(w, err)
		return
	}
	httpx.RobustOK(w, "success")
}

var schemaFields = []string{"tenant", "name", "schema_type"}

func (m *Module) handleList(w http.ResponseWriter, r *http.Request) {
	q, err := robustmq.ParseQuery(r, schemaFields)
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	recs, err := m.listSchemas(r.Context())
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	// tenant and name are RobustMQ's substring filters.
	tenant, name := r.URL.Query().Get("tenant"), r.URL.Query().Get("name")
	rows := make([]schemaRow, 0, len(recs))
	for _, rec := range recs {
		if strings.Contains(rec.Tenant, tenant) && strings.Contains(rec.Name, name) {
			rows = append(rows, schemaRow{Tenant: rec.Tenant, Name: rec.Name, Type: rec.Type,
				Desc: rec.Desc, Schema: rec.Schema, Message: rec.Message})
		}
	}
	page, total := robustmq.Apply(rows, q, func(row schemaRow, f string) string {
		switch f {
		case "tenant":
			return row.Tenant
		case "schema_type":
			return row.Type
		}
		return row.Name
	})
	httpx.RobustOK(w, robustmq.Page[schemaRow]{Data: page, TotalCount: total})
}

func (m *Module) handleBind(w http.ResponseWriter, r *http.Request)   { m.changeBinding(w, r, true) }
func (m *Module) handleUnbind(w http.ResponseWriter, r *http.Request) { m.changeBinding(w, r, false) }

func (m *Module) changeBinding(w http.ResponseWriter, r *http.Request, add bool) {
	var req bindReq
	if err := robustmq.Decode(w, r, &req); err != nil {
		robustmq.Fail(w, err)
		return
	}
	if err := robustmq.FirstError(checkTenant(req.Tenant), checkSchemaName(req.Schema),
		checkResourceName(req.Resource)); err != nil {
		robustmq.Fail(w, err)
		return
	}
	if err := m.bind(r.Context(), *req.Tenant, *req.Schema, *req.Resource, add); err != nil {
		robustmq.Fail(w, err)
		return
	}
	httpx.RobustOK(w, "success")
}

var bindFields = []string{"tenant", "name", "data_type"}

// handleBindList answers RobustMQ's lookups: with resource_name, the
// schemas a publish to it must pass; with schema_name, the resources bound
// to it; with neither, one row per bound schema (a Trellis addition:
// RobustMQ answers an empty list).
func (m *Module) handleBindList(w http.ResponseWriter, r *http.Request) {
	q, err := robustmq.ParseQuery(r, bindFields)
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	v := r.URL.Query()
	tenant, resource, schema := v.Get("tenant"), v.Get("resource_name"), v.Get("schema_name")
	if tenant == "" && (resource != "" || schema != "") {
		robustmq.Fail(w, robustmq.Invalid("tenant", "required with resource_name or schema_name"))
		return
	}
	bs, err := m.listBindings(r.Context(), tenant, "")
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	rows := []bindRow{}
	if resource != "" {
		row := bindRow{DataType: "resource", Tenant: tenant, Name: resource, Data: []string{}}
		for _, b := range bs {
			// A topic gets the schemas of filters matching it too; a
			// filter only its own.
			if (b.Resource == resource || (!isFilter(resource) && matches(b.Resource, resource))) &&
				!slices.Contains(row.Data, b.Schema) {
				row.Data = append(row.Data, b.Schema)
			}
		}
		rows = append(rows, row)
	}
	if schema != "" {
		row := bindRow{DataType: "schema", Tenant: tenant, Name: schema, Data: []string{}}
		for _, b := range bs {
			if b.Schema == schema {
				row.Data = append(row.Data, b.Resource)
			}
		}
		rows = append(rows, row)
	}
	if resource == "" && schema == "" {
		for _, b := range bs {
			n := len(rows)
			if n == 0 || rows[n-1].Tenant != b.Tenant || rows[n-1].Name != b.Schema {
				rows = append(rows, bindRow{DataType: "schema", Tenant: b.Tenant, Name: b.Schema})
				n++
			}
			rows[n-1].Data = append(rows[n-1].Data, b.Resource)
		}
	}
	page, total := robustmq.Apply(rows, q, func(row bindRow, f string) string {
		switch f {
		case "tenant":
			return row.Tenant
		case "data_type":
			return row.DataType
		}
		return row.Name
	})
	httpx.RobustOK(w, robustmq.Page[bindRow]{Data: page, TotalCount: total})
}

func (m *Module) handleValidate(w http.ResponseWriter, r *http.Request) {
	var req validateReq
	if err := robustmq.Decode(w, r, &req); err != nil {
		robustmq.Fail(w, err)
		return
	}
	err := checkTenant(req.Tenant)
	if err == nil {
		switch {
		case (req.Schema == nil) == (req.Topic == nil):
			err = robustmq.Invalid("schema_name", "give exactly one of schema_name and topic_name")
		case req.Schema != nil:
			err = checkSchemaName(req.Schema)
		default:
			err = robustmq.Length("topic_name", "Topic name", *req.Topic, 1, maxResource)
			if err == nil {
				if terr := checkTopic(*req.Topic); terr != nil {
					err = robustmq.Invalid("topic_name", "%v", terr)
				}
			}
		}
	}
	var payload []byte
	if err == nil {
		switch {
		case (req.Payload == nil) == (req.PayloadBase64 == nil):
			err = robustmq.Invalid("payload", "give exactly one of payload and payload_base64")
		case req.Payload != nil:
			payload = []byte(*req.Payload)
		default:
			var derr error
			if payload, derr = base64.StdEncoding.DecodeString(*req.PayloadBase64); derr != nil {
				err = robustmq.Invalid("payload_base64", "not standard base64: %v", derr)
			}
		}
	}
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	var v Verdict
	if req.Schema != nil {
		v, err = m.ValidateSchema(r.Context(), *req.Tenant, *req.Schema, payload)
	} else {
		v, err = m.ValidateTopic(r.Context(), *req.Tenant, *req.Topic, payload)
	}
	if err != nil {
		robustmq.Fail(w, err)
		return
	}
	httpx.RobustOK(w, v)
}
