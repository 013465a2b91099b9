package schema

import "time"

// Limits from RobustMQ's request validation.
const (
	maxTenant     = 128
	maxSchemaName = 128
	maxSchemaType = 50
	maxSchema     = 8192
	maxDesc       = 500
	maxResource   = 256
	// maxMessage bounds the protobuf message name (a Trellis extension).
	maxMessage = 512
)

// record is a stored schema: namespace schema, key s/<tenant>/<name>
// (each part path-escaped).
type record struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Type   string `json:"schema_type"`
	Schema string `json:"schema"`
	Desc   string `json:"desc"`
	// Message names the protobuf message payloads are encoded as; empty
	// means the first message of the schema.
	Message string `json:"message,omitempty"`
	// Bindings counts the schema's bindings. Every binding change
	// rewrites the record in the same transaction, so a delete that saw
	// none cannot race a new one.
	Bindings int       `json:"bindings"`
	Created  time.Time `json:"created"`
}

// binding is a stored binding: key b/<tenant>/<schema>/<resource>.
type binding struct {
	Tenant   string    `json:"tenant"`
	Schema   string    `json:"schema_name"`
	Resource string    `json:"resource_name"`
	Created  time.Time `json:"created"`
}

// schemaRow is a row of GET /api/cluster/schema/list (RobustMQ's
// SchemaListRow; message only for protobuf schemas that name one).
type schemaRow struct {
	Tenant  string `json:"tenant"`
	Name    string `json:"name"`
	Type    string `json:"schema_type"`
	Desc    string `json:"desc"`
	Schema  string `json:"schema"`
	Message string `json:"message,omitempty"`
}

// bindRow is a row of GET /api/cluster/schema-bind/list: RobustMQ's
// {data_type, data} with the tenant and the name the row is about.
// data_type "resource": data are the schemas a publish to name must
// pass; "schema": data are the resources bound to schema name.
type bindRow struct {
	DataType string   `json:"data_type"`
	Data     []string `json:"data"`
	Tenant   string   `json:"tenant"`
	Name     string   `json:"name"`
}

// createReq is POST /api/cluster/schema/create.
type createReq struct {
	Tenant  *string `json:"tenant"`
	Name    *string `json:"schema_name"`
	Type    *string `json:"schema_type"`
	Schema  *string `json:"schema"`
	Desc    string  `json:"desc"`
	Message string  `json:"message"`
}

// deleteReq is POST /api/cluster/schema/delete.
type deleteReq struct {
	Tenant *string `json:"tenant"`
	Name   *string `json:"schema_name"`
}

// bindReq is POST /api/cluster/schema-bind/create and .../delete.
type bindReq struct {
	Tenant   *string `json:"tenant"`
	Schema   *string `json:"schema_name"`
	Resource *string `json:"resource_name"`
}

// validateReq is POST /api/cluster/schema/validate.
type validateReq struct {
	Tenant        *string `json:"tenant"`
	Schema        *string `json:"schema_name"`
	Topic         *string `json:"topic_name"`
	Payload       *string `json:"payload"`
	PayloadBase64 *string `json:"payload_base64"`
}

// Verdict is the answer of a validation: Valid when the payload passed
// every schema checked (none checked is valid: nothing is bound).
type Verdict struct {
	Valid bool `json:"valid"`
	// Errors says, per failing schema, why.
	Errors []Failure `json:"errors"`
	// Checked lists the schemas the payload was checked against.
	Checked []string `json:"checked"`
}

// Failure is one schema's objection to a payload.
type Failure struct {
	Schema string `json:"schema_name"`
	Type   string `json:"schema_type"`
	// Resource is the binding that brought the schema in (topic
	// validation only).
	Resource string `json:"resource_name,omitempty"`
	Message  string `json:"error"`
	// Undecided is true when the validator could not judge the payload
	// (plugin missing, timed out or failed) rather than finding it invalid.
	Undecided bool `json:"undecided,omitempty"`
}
