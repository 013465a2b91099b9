package robustmq

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
)

// Fail writes err as RobustMQ's error envelope
// {"code":100,"data":"","error":"..."} with the status apierr.Classify
// gives it (an *apierr.Error keeps its own; core errors map to 400, 413,
// 503, 507...; anything else is a 500).
func Fail(w http.ResponseWriter, err error, match ...apierr.Matcher) {
	e := apierr.Classify(err, match...)
	httpx.ErrorFamily(w, httpx.FamilyRobustMQ, e.Status, e.Message)
}

// Invalid is a 400 "Parameter validation failed: field: msg", RobustMQ's
// answer to a field that breaks a rule.
func Invalid(field, format string, args ...any) *apierr.Error {
	return apierr.BadRequest("Parameter validation failed: %s: %s", field, fmt.Sprintf(format, args...))
}

// NotFound is a 404 with the formatted message.
func NotFound(format string, args ...any) *apierr.Error {
	return apierr.Errorf(http.StatusNotFound, "not_found", format, args...)
}

// Conflict is a 409 with the formatted message.
func Conflict(format string, args ...any) *apierr.Error {
	return apierr.Errorf(http.StatusConflict, "conflict", format, args...)
}

// Decode reads r's JSON body into dst with httpx.DecodeJSON's strict rules
// and words a failure as RobustMQ does: a body that is not acceptable JSON
// for dst is 400 "JSON parsing failed: ...", an oversized one 413.
func Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	err := httpx.DecodeJSON(w, r, dst)
	var bre *httpx.BadRequestError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bre):
		return apierr.BadRequest("JSON parsing failed: %s", bre.Msg)
	case errors.Is(err, httpx.ErrTooLarge):
		return apierr.Errorf(http.StatusRequestEntityTooLarge, apierr.CodeTooLarge, "%s", err)
	}
	return err
}

// Length checks that value has between min and max characters (Unicode
// code points, as RobustMQ's validator counts) and returns RobustMQ's
// validation error otherwise: label is the message's subject ("Schema
// name"), field the JSON name.
func Length(field, label, value string, min, max int) error {
	n := len([]rune(value))
	switch {
	case min > 0 && n < min && max > 0:
		return Invalid(field, "%s length must be between %d-%d", label, min, max)
	case n < min:
		return Invalid(field, "%s must not be empty", label)
	case max > 0 && n > max && min > 0:
		return Invalid(field, "%s length must be between %d-%d", label, min, max)
	case max > 0 && n > max:
		return Invalid(field, "%s length cannot exceed %d", label, max)
	}
	return nil
}

// FirstError returns the first non-nil error: checks read as a list.
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
