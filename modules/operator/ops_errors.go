package operator

import (
	"errors"
	"net/http"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// Error codes of the ops API, in the "code" field beside etcdmonitor's
// "error" text, for clients that branch on them; apierr has the shared
// ones.
const (
	opsCodeMemberUnknown = "member_not_found"
	opsCodeMisdirected   = "misdirected"
	opsCodeNoAlarm       = "alarm_not_found"
)

// toOpsError classifies any error a handler returns: this module's own
// errors, then apierr's core ones. A client's mistake is never a 500:
// only what is left unclassified (a storage failure) is.
func toOpsError(err error) *apierr.Error {
	return apierr.Classify(err, opsKnownError)
}

// opsKnownError maps the errors only the ops API answers; nil for the
// rest.
func opsKnownError(err error) *apierr.Error {
	switch {
	case errors.Is(err, raft.ErrUnknownMember):
		return apierr.Errorf(http.StatusBadRequest, opsCodeMemberUnknown, "member not found: %s", err)
	case errors.Is(err, store.ErrNoAlarm):
		return apierr.Errorf(http.StatusNotFound, opsCodeNoAlarm, "%s", err)
	}
	return nil
}

// opsFail answers err in etcdmonitor's format: {"error": msg, "code": code}
// plus the error's extra fields.
func (m *Module) opsFail(w http.ResponseWriter, r *http.Request, err error) {
	oe := toOpsError(err)
	if oe.Status >= http.StatusInternalServerError {
		m.log.Error("ops request failed", "method", r.Method, "path", r.URL.Path, "status", oe.Status, "err", err)
	}
	body := map[string]any{"error": oe.Message, "code": oe.Code}
	for k, v := range oe.Extra {
		body[k] = v
	}
	httpx.JSON(w, oe.Status, body)
}
