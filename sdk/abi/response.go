package abi

import "errors"

// Every entry point answers with a packed pointer to a response that the
// guest owns until the host's next call into the same instance:
//
//	response = status:u8 payload
//
// StatusOK carries the entry point's result; StatusError carries the
// failure as data (for connector_write, accepted:u32 then the message; for
// the others, the message alone), so that a bad config, an invalid schema or
// a refused write never needs a trap.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// Verdicts for one record in a validator_validate response.
const (
	VerdictValid   byte = 0 // the payload satisfies the schema
	VerdictInvalid byte = 1 // it does not; the message says why
	VerdictError   byte = 2 // the validator could not decide (not implemented, internal error)
)

// Response payloads by entry point (after the status byte):
//
//	connector_open     ok: handle:u32               error: message
//	connector_write    ok: accepted:u32             error: accepted:u32 message
//	connector_close    ok: (empty)                  error: message
//	validator_compile  ok: handle:u32               error: message
//	validator_validate ok: count:u32 {verdict:u8 message:bytes}*count
//	                                                error: message
//	validator_release  ok: (empty)                  error: message

// ErrBadStatus is returned for a response whose status byte is neither ok
// nor error: a plugin that does not follow the ABI.
var ErrBadStatus = errors.New("abi: response has an unknown status byte")

// OK returns a success response with payload p appended to b.
func OK(b []byte, p ...byte) []byte { return append(append(b, StatusOK), p...) }

// Error returns an error response carrying msg.
func Error(b []byte, msg string) []byte { return append(append(b, StatusError), msg...) }

// SplitResponse returns the status and payload of a response.
func SplitResponse(resp []byte) (status byte, payload []byte, err error) {
	if len(resp) == 0 {
		return 0, nil, ErrShort
	}
	if resp[0] != StatusOK && resp[0] != StatusError {
		return 0, nil, ErrBadStatus
	}
	return resp[0], resp[1:], nil
}

// Verdict is one record's validation result.
type Verdict struct {
	Code    byte
	Message string
}

// AppendVerdict appends one validation result to a validate response body.
func AppendVerdict(b []byte, code byte, msg string) []byte {
	return AppendString(append(b, code), msg)
}

// DecodeVerdicts decodes a validator_validate OK payload into out (reusing
// its capacity).
func DecodeVerdicts(payload []byte, out []Verdict) ([]Verdict, error) {
	rd := NewReader(payload)
	n := rd.U32()
	if rd.Err != nil {
		return out, rd.Err
	}
	if uint64(n)*5 > uint64(rd.Len()) {
		return out, ErrShort
	}
	out = out[:0]
	for i := uint32(0); i < n; i++ {
		code := rd.U8()
		msg := rd.Bytes()
		if rd.Err != nil {
			return out, rd.Err
		}
		v := Verdict{Code: code}
		if len(msg) > 0 {
			v.Message = string(msg)
		}
		out = append(out, v)
	}
	return out, nil
}
