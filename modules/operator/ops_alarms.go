package operator

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// opsAlarm is one raised alarm as etcdmonitor lists it.
type opsAlarm struct {
	MemberID   string `json:"member_id"`
	MemberName string `json:"member_name"`
	AlarmType  string `json:"alarm_type"`
}

// opsAlarms lists the raised alarms: {"alarms": [...]}, [] when none.
// Alarms are replicated, so every member answers the same.
func (m *Module) opsAlarms(w http.ResponseWriter, _ *http.Request) error {
	names := m.opsMemberNames()
	out := []opsAlarm{}
	for _, a := range m.maint.Alarms() {
		name, ok := names[a.MemberID]
		if !ok {
			name = strconv.FormatUint(a.MemberID, 10)
		}
		out = append(out, opsAlarm{MemberID: strconv.FormatUint(a.MemberID, 10), MemberName: name, AlarmType: string(a.Type)})
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"alarms": out})
	return nil
}

// opsDisarmRequest is etcdmonitor's POST /api/ops/alarms/disarm body.
type opsDisarmRequest struct {
	MemberID  string `json:"member_id"`
	AlarmType string `json:"alarm_type"`
}

// opsDisarmAlarm clears one raised alarm. Unlike etcdmonitor, which
// disarms NOSPACE for any type it does not know, a type other than
// NOSPACE or CORRUPT is refused.
func (m *Module) opsDisarmAlarm(w http.ResponseWriter, r *http.Request) error {
	var req opsDisarmRequest
	if err := opsDecode(w, r, &req, false); err != nil {
		return err
	}
	if req.MemberID == "" || req.AlarmType == "" {
		return apierr.BadRequest("member_id and alarm_type are required")
	}
	id, err := opsParseMemberID("member_id", req.MemberID)
	if err != nil {
		return err
	}
	typ, err := opsParseAlarmType(req.AlarmType)
	if err != nil {
		return err
	}
	alarm := store.Alarm{MemberID: id, Type: typ}
	name := strconv.FormatUint(id, 10)
	if mem, err := m.opsMember(id); err == nil {
		name = opsMemberName(mem)
	} else if !m.opsAlarmRaised(id) {
		// A removed member's alarm can still be disarmed; otherwise an
		// unknown id is a mistake.
		return err
	}
	audit.SetTarget(r.Context(), name)
	ctx, cancel := context.WithTimeout(r.Context(), opsAlarmTimeout)
	defer cancel()
	if err := m.maint.DisarmAlarm(ctx, alarm); err != nil {
		return fmt.Errorf("disarm %s alarm of member %s: %w", typ, name, err)
	}
	m.log.Info("alarm disarmed", "member", name, "member_id", id, "alarm_type", typ)
	httpx.JSON(w, http.StatusOK, map[string]string{"message": "alarm disarmed"})
	return nil
}

// opsParseAlarmType accepts etcd's names: NOSPACE, CORRUPT, and the
// protobuf spellings AlarmType_NOSPACE, AlarmType_CORRUPT.
func opsParseAlarmType(s string) (store.AlarmType, error) {
	switch t := store.AlarmType(strings.TrimPrefix(s, "AlarmType_")); t {
	case store.AlarmNoSpace, store.AlarmCorrupt:
		return t, nil
	}
	return "", apierr.BadRequest("invalid alarm_type %q: want NOSPACE or CORRUPT", s)
}

// opsAlarmRaised reports whether any alarm is raised for member id.
func (m *Module) opsAlarmRaised(id uint64) bool {
	for _, a := range m.maint.Alarms() {
		if a.MemberID == id {
			return true
		}
	}
	return false
}
