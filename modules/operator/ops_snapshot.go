package operator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// Trailers of a snapshot download: what was sent, so a client can check
// it received all of it (the size is not known when the body starts).
const (
	SnapshotRevisionTrailer = "X-Trellis-Snapshot-Revision"
	SnapshotSizeTrailer     = "X-Trellis-Snapshot-Size"
	SnapshotSHA256Trailer   = "X-Trellis-Snapshot-Sha256"
)

// opsSnapshot streams a snapshot of one member's state (?member_id=,
// default this member) as a file download. GETs are not audited by the
// middleware, so the download records its own entry. A failure after the
// first byte aborts the response, so a client never mistakes a cut-off
// stream for a whole snapshot.
func (m *Module) opsSnapshot(w http.ResponseWriter, r *http.Request) error {
	id := m.self
	if s := r.URL.Query().Get("member_id"); s != "" {
		var err error
		if id, err = opsParseMemberID("member_id", s); err != nil {
			return err
		}
	}
	mem, err := m.opsMember(id)
	if err != nil {
		return err
	}
	m.opsExtendWriteDeadline(w, opsSnapshotTimeout)
	if forwarded, err := m.opsForward(w, r, id); forwarded || err != nil {
		return err
	}
	name := opsMemberName(mem)
	m.log.Info("snapshot started", "member", name, "member_id", id)
	ctx, cancel := context.WithTimeout(r.Context(), opsSnapshotTimeout)
	defer cancel()
	start := time.Now()
	sw := &opsSnapshotWriter{w: w, name: name, at: start}
	sum := sha256.New()
	info, err := m.maint.Snapshot(ctx, io.MultiWriter(sw, sum))
	if err != nil {
		err = fmt.Errorf("snapshot %s: %w", name, err)
	}
	m.opsRecordSnapshot(r, id, name, start, info, sw.n, err)
	if err != nil {
		m.log.Warn("snapshot failed", "member", name, "sent_bytes", sw.n, "err", err)
		if !sw.started {
			return err
		}
		panic(http.ErrAbortHandler)
	}
	sw.start()
	h := w.Header()
	h.Set(SnapshotRevisionTrailer, strconv.FormatInt(info.Revision, 10))
	h.Set(SnapshotSizeTrailer, strconv.FormatInt(sw.n, 10))
	h.Set(SnapshotSHA256Trailer, hex.EncodeToString(sum.Sum(nil)))
	m.log.Info("snapshot completed", "member", name, "revision", info.Revision, "size", sw.n, "duration_ms", opsSince(start))
	return nil
}

// opsRecordSnapshot writes the download's audit entry, as etcdmonitor
// logs operation "snapshot" with the size in the result.
func (m *Module) opsRecordSnapshot(r *http.Request, id uint64, name string, start time.Time, info store.SnapshotInfo, sent int64, err error) {
	if m.audit == nil {
		return
	}
	user := "anonymous"
	if p := auth.FromContext(r.Context()); p != nil {
		user = p.Username
	}
	params, _ := json.Marshal(map[string]any{"query": map[string]string{"member_id": strconv.FormatUint(id, 10)}})
	e := audit.Entry{
		Time:       start,
		Username:   user,
		Operation:  r.Method + " /api/ops/snapshot",
		Target:     name,
		Params:     string(params),
		Status:     http.StatusOK,
		Result:     fmt.Sprintf("success, size=%d bytes, revision=%d", sent, info.Revision),
		DurationMs: opsSince(start),
		Success:    true,
		RequestID:  httpx.RequestID(r.Context()),
		ClientAddr: r.RemoteAddr,
	}
	if err != nil {
		e.Status = toOpsError(err).Status
		if sent > 0 {
			e.Status = http.StatusOK // the header was already sent
		}
		e.Result = fmt.Sprintf("snapshot failed after %d bytes: %v", sent, err)
		e.Success = false
	}
	m.audit.Record(e)
}

// opsSnapshotWriter sends the download's header with the first byte, so
// a snapshot that fails at once still answers a JSON error.
type opsSnapshotWriter struct {
	w       http.ResponseWriter
	name    string
	at      time.Time
	started bool
	n       int64
}

func (s *opsSnapshotWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, opsSnapshotFilename(s.name, s.at)))
	h.Set("Trailer", strings.Join([]string{SnapshotRevisionTrailer, SnapshotSizeTrailer, SnapshotSHA256Trailer}, ", "))
	h.Set("Cache-Control", "no-store")
	s.w.WriteHeader(http.StatusOK)
}

func (s *opsSnapshotWriter) Write(p []byte) (int, error) {
	s.start()
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

// opsSnapshotFilename is trellis-snapshot-<member>-<yyyymmdd-hhmmss>.db
// (UTC), the member name cut down to characters safe in a header and a
// file name.
func opsSnapshotFilename(member string, at time.Time) string {
	safe := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '_'
	}, member)
	return fmt.Sprintf("trellis-snapshot-%s-%s.db", safe, at.UTC().Format("20060102-150405"))
}
