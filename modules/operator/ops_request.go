package operator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

// opsMaxBody bounds an ops request body: the largest one is a few dozen
// bytes ({"retain_count": 1000, "physical": true}).
const opsMaxBody = 64 << 10

// opsDecode reads r's body (at most opsMaxBody) strictly into dst and puts
// the bytes back, so the request can still be forwarded to another
// member. With optional, an empty body leaves dst as it is.
func opsDecode(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	limit := int64(opsMaxBody)
	if n, ok := httpx.BodyLimit(r.Context()); ok && n < limit {
		limit = n
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: limit is %d bytes", httpx.ErrTooLarge, limit)
	}
	if err != nil {
		return apierr.BadRequest("cannot read the request body: %s", err)
	}
	reset := func() {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
	}
	reset()
	defer reset()
	// Empty is DecodeJSON's empty: nothing but JSON whitespace. (A body of
	// other Unicode spaces, "\f" say, is not JSON and not empty.)
	err = httpx.DecodeJSON(w, r, dst)
	if optional && errors.Is(err, httpx.ErrEmptyBody) {
		return nil
	}
	return err
}

// opsParseMemberID reads a member id, a decimal string as etcdmonitor's
// frontend sends it. field names it in the messages.
func opsParseMemberID(field, s string) (uint64, error) {
	if s == "" {
		return 0, apierr.BadRequest("%s is required", field)
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		if err == nil {
			err = errors.New("member ids start at 1")
		}
		return 0, apierr.BadRequest("invalid member_id: %q: %v", s, err)
	}
	return id, nil
}

// opsMember returns the member with id, or a 400 "member not found".
func (m *Module) opsMember(id uint64) (raft.Member, error) {
	for _, mem := range m.cluster.Members() {
		if mem.ID == id {
			return mem, nil
		}
	}
	return raft.Member{}, apierr.Errorf(http.StatusBadRequest, opsCodeMemberUnknown, "member not found: %d", id)
}

// opsMemberName is a member's display name: its announced name, or
// node-<id> like config.NodeName.
func opsMemberName(mem raft.Member) string {
	if mem.Name != "" {
		return mem.Name
	}
	return "node-" + strconv.FormatUint(mem.ID, 10)
}

// opsMemberNames maps member ids to names, for answers that list members.
func (m *Module) opsMemberNames() map[uint64]string {
	names := map[uint64]string{}
	for _, mem := range m.cluster.Members() {
		names[mem.ID] = opsMemberName(mem)
	}
	return names
}

// opsForward sends a request meant for member id to it and reports
// whether it did; for this member it does nothing. A request another
// member already forwarded is not forwarded again: the two members
// disagree about who is who, and the caller hears so (421).
func (m *Module) opsForward(w http.ResponseWriter, r *http.Request, id uint64) (bool, error) {
	if id == m.self {
		return false, nil
	}
	if m.peers.Forwarded(r) {
		return false, apierr.Errorf(http.StatusMisdirectedRequest, opsCodeMisdirected,
			"member %d received a forwarded request meant for member %d", m.self, id)
	}
	m.peers.Forward(w, r, id)
	return true, nil
}
