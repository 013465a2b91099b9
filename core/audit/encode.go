package audit

import (
	"time"

	"github.com/trellis-cp/trellis/internal/jsonenc"
)

// appendJSON appends s exactly as json.Marshal writes it: every audited
// request is encoded once, and reflection was most of the flusher's CPU.
// ok is false for a time json.Marshal refuses (a year outside 0–9999, a
// zone offset of a day or more); the caller then lets json.Marshal report
// the error.
func (s *stored) appendJSON(b []byte) (_ []byte, ok bool) {
	if y := s.Time.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := s.Time.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '{')
	b = jsonenc.Field(b, "id")
	b = jsonenc.Int(b, s.ID)
	b = jsonenc.Field(b, "timestamp")
	b = jsonenc.Int(b, s.Timestamp)
	for _, f := range [...]struct{ name, v string }{
		{"username", s.Username}, {"operation", s.Operation}, {"target", s.Target},
		{"params", s.Params}, {"result", s.Result},
	} {
		b = jsonenc.StringField(b, f.name, f.v, false)
	}
	b = jsonenc.Field(b, "duration_ms")
	b = jsonenc.Int(b, s.DurationMs)
	b = jsonenc.Field(b, "success")
	b = jsonenc.Bool(b, s.Success)
	b = jsonenc.Field(b, "status")
	b = jsonenc.Int(b, int64(s.Status))
	b = jsonenc.Field(b, "node_id")
	b = jsonenc.Uint(b, s.NodeID)
	b = jsonenc.Field(b, "time")
	b = append(b, '"')
	b = s.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = jsonenc.StringField(b, "request_id", s.RequestID, true)
	b = jsonenc.StringField(b, "client_addr", s.ClientAddr, true)
	b = jsonenc.Field(b, "seq")
	b = jsonenc.Int(b, int64(s.Seq))
	return append(b, '}'), true
}
