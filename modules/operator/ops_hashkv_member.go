package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

// opsHashKVMemberPath answers one member's own hash; the member running
// POST /api/ops/hashkv asks every other member there.
const opsHashKVMemberPath = "/api/ops/hashkv/member"

// opsMemberHashResponse is what opsHashKVMemberPath answers.
type opsMemberHashResponse struct {
	MemberID        string `json:"member_id"`
	MemberName      string `json:"member_name"`
	Hash            uint32 `json:"hash"`
	Revision        int64  `json:"revision"`
	CompactRevision int64  `json:"compact_revision"`
}

// opsHashOf asks one member for its hash at rev: this member directly,
// the others over HTTP with the caller's credentials.
func (m *Module) opsHashOf(ctx context.Context, r *http.Request, mem raft.Member, rev int64) opsHashResult {
	res := opsHashResult{MemberID: strconv.FormatUint(mem.ID, 10), MemberName: opsMemberName(mem), Revision: rev, id: mem.ID}
	if mem.ID == m.self {
		h, err := m.maint.HashKV(ctx, rev)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.Hash, res.Revision = h.Hash, h.Revision
		return res
	}
	q := url.Values{"revision": {strconv.FormatInt(rev, 10)}, "member_id": {res.MemberID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opsHashKVMemberPath+"?"+q.Encode(), nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if tok := auth.TokenFromRequest(r); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.peers.Do(ctx, mem.ID, req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		res.Error = fmt.Sprintf("read answer: %v", err)
		return res
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = string(raw)
		}
		res.Error = fmt.Sprintf("%d: %s", resp.StatusCode, e.Error)
		return res
	}
	var mh opsMemberHashResponse
	if err := json.Unmarshal(raw, &mh); err != nil {
		res.Error = fmt.Sprintf("bad answer: %v", err)
		return res
	}
	res.Hash, res.Revision = mh.Hash, mh.Revision
	return res
}

// opsMemberHashKV answers this member's hash at ?revision=R. With
// ?member_id= it checks the request was meant for this member.
func (m *Module) opsMemberHashKV(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if s := q.Get("member_id"); s != "" {
		id, err := opsParseMemberID("member_id", s)
		if err != nil {
			return err
		}
		if id != m.self {
			return apierr.Errorf(http.StatusMisdirectedRequest, opsCodeMisdirected, "this is member %d, not %d", m.self, id)
		}
	}
	rev, err := strconv.ParseInt(q.Get("revision"), 10, 64)
	if err != nil || rev <= 0 {
		return apierr.BadRequest("revision must be a positive integer, got %q", q.Get("revision"))
	}
	ctx, cancel := context.WithTimeout(r.Context(), opsHashKVTimeout)
	defer cancel()
	h, err := m.maint.HashKV(ctx, rev)
	if err != nil {
		return fmt.Errorf("hashkv at %d: %w", rev, err)
	}
	mem, _ := m.opsMember(m.self)
	if mem.ID == 0 {
		mem.ID = m.self
	}
	httpx.JSON(w, http.StatusOK, opsMemberHashResponse{
		MemberID: strconv.FormatUint(m.self, 10), MemberName: opsMemberName(mem),
		Hash: h.Hash, Revision: h.Revision, CompactRevision: h.CompactRevision,
	})
	return nil
}
