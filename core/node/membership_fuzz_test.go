package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// fakeAdder is raft's AddMember as the join handler sees it: the same
// answers for a duplicate id or address, and a record of every member it
// was asked to add.
type fakeAdder struct {
	members []raft.Member
	added   []raft.Member
}

func (f *fakeAdder) Leader() uint64 { return 1 }

func (f *fakeAdder) AddMember(_ context.Context, m raft.Member) ([]raft.Member, error) {
	f.added = append(f.added, m)
	for _, cur := range f.members {
		if cur.ID == m.ID {
			if cur.PeerAddr == m.PeerAddr {
				return f.members, nil
			}
			return nil, fmt.Errorf("%w: id %d is %s", raft.ErrMemberExists, m.ID, cur.PeerAddr)
		}
		if cur.PeerAddr == m.PeerAddr {
			return nil, fmt.Errorf("%w: %s is node %d", raft.ErrMemberExists, m.PeerAddr, cur.ID)
		}
	}
	m.Learner = true
	f.members = append(f.members, m)
	return f.members, nil
}

// wantDialable is the fuzz test's own idea of an address other members
// can dial: HOST:PORT with a printable host and a port of 1 to 65535.
func wantDialable(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || !utf8.ValidString(host) || port == "" {
		return false
	}
	for _, r := range host {
		if r <= ' ' || r == '/' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	n := 0
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			return false
		}
	}
	return n >= 1
}

// FuzzJoin drives POST /raft/join's handler with any body. It never
// panics and never answers 5xx; it adds a member only for a body that is
// one JSON object with a positive id and a dialable peer_addr, and the
// member it adds is the body's, field for field. A refused body proposes
// nothing.
func FuzzJoin(f *testing.F) {
	for _, seed := range []string{
		`{"id":2,"name":"node-2","peer_addr":"127.0.0.1:7002","http_addr":"127.0.0.1:8002"}`,
		`{"id":2,"peer_addr":"127.0.0.1:7002","http_addr":":8080"}`,
		`{"id":2,"peer_addr":"[::1]:7002"}`,
		`{"id":1,"peer_addr":"127.0.0.1:7001"}`, // already a member: a no-op
		`{"id":1,"peer_addr":"127.0.0.1:9999"}`, // id taken: 409
		`{"id":3,"peer_addr":"127.0.0.1:7001"}`, // address taken: 409
		`{"id":2,"peer_addr":"garbage"}`,        // not HOST:PORT: 400
		`{"id":2,"peer_addr":":7002"}`,          // listen form: nobody can dial it
		`{"id":2,"peer_addr":"host:0"}`,
		`{"id":2,"peer_addr":"host:65536"}`,
		`{"id":2,"peer_addr":"ho st:1"}`,
		`{"id":2,"peer_addr":"h\u0000:1"}`,
		`{"id":2,"peer_addr":"a:1","http_addr":"nope"}`,
		`{"id":0,"peer_addr":"a:1"}`,
		`{"id":-1,"peer_addr":"a:1"}`,
		`{"id":18446744073709551616,"peer_addr":"a:1"}`,
		`{"id":1e3,"peer_addr":"a:1"}`,
		`{"id":"2","peer_addr":"a:1"}`,
		`{"id":2,"peer_addr":"a:1","extra":true}`,
		`{"id":2,"peer_addr":"a:1"} {}`,
		`{"id":2,"peer_addr":"a:1"}x`,
		`{"id":2,"peer_addr":["a:1"]}`,
		`{"id":2,"name":"\u00e9\u4e16\ud83d\ude00","peer_addr":"\u4e16:1"}`,
		`{"id":2,"name":{"a":[{"b":null}]},"peer_addr":"a:1"}`,
		`{"id":2,"peer_Addr":"a:1"}`,          // names match in any case
		"{\"id\":2,\"peer_addr\":\"\x8d:1\"}", // invalid UTF-8: 400
		`[{"id":2}]`, `null`, `""`, `{}`, ``, `   `, `{`, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		rn := &fakeAdder{members: []raft.Member{{ID: 1, Name: "node-1", PeerAddr: "127.0.0.1:7001"}}}
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/raft/join", bytes.NewReader(body))
		serveJoin(w, r, rn, log)

		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		// What the body says, decoded the handler's way (strict, one value).
		var req joinRequest
		valid := testutil.StrictJSON(body, &req) && req.ID != 0 && wantDialable(req.PeerAddr)
		switch {
		case w.Code == http.StatusOK:
			if !valid {
				t.Fatalf("200 for a body that does not validate: %q", body)
			}
			want := raft.Member{ID: req.ID, Name: req.Name, PeerAddr: req.PeerAddr, HTTPAddr: req.HTTPAddr}
			if len(rn.added) != 1 || rn.added[0] != want {
				t.Fatalf("added %+v for %q, want %+v", rn.added, body, want)
			}
			var ans membersResponse
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || ans.Leader != 1 {
				t.Fatalf("answer %s: %v", w.Body, err)
			}
			found := false
			for _, m := range ans.Members {
				found = found || (m.ID == req.ID && m.PeerAddr == req.PeerAddr)
			}
			if !found {
				t.Fatalf("answer %s does not list member %d", w.Body, req.ID)
			}
		case w.Code == http.StatusConflict:
			if len(rn.added) != 1 {
				t.Fatalf("409 without a proposal for %q", body)
			}
		case w.Code == http.StatusBadRequest || w.Code == http.StatusRequestEntityTooLarge:
			if len(rn.added) != 0 {
				t.Fatalf("%d, yet %+v was proposed for %q", w.Code, rn.added, body)
			}
			if valid && req.HTTPAddr == "" {
				t.Fatalf("400 for a valid body %q: %s", body, w.Body)
			}
		default:
			t.Fatalf("unexpected status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
