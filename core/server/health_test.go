package server

import (
	"net/http"
	"testing"
)

func TestHealthRoutes(t *testing.T) {
	h := &fakeHealth{}
	s, _ := testServer(t, Options{Health: h}, nil)
	base := s.URL()

	type want struct {
		status      int
		ctype, body string
	}
	cases := []struct {
		name                 string
		ready, node, cluster error
		path                 string
		want                 want
	}{
		{"greptime ok", nil, nil, nil, "/admin/health", want{200, "text/plain; charset=utf-8", "OK"}},
		{"greptime down", nil, errTest, nil, "/admin/health", want{503, "text/plain; charset=utf-8", "unhealthy: no leader"}},

		{"ready ok", nil, nil, nil, "/health/ready", want{200, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":{"status":"ok","check_type":"ready","message":"node is ready"}}`}},
		{"ready down", errTest, nil, nil, "/health/ready", want{503, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":{"status":"not_ready","check_type":"ready","message":"no leader"}}`}},
		{"node ok", nil, nil, nil, "/health/node", want{200, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":{"status":"ok","check_type":"node","message":"node is healthy"}}`}},
		{"node down", nil, errTest, nil, "/health/node", want{503, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":{"status":"unhealthy","check_type":"node","message":"no leader"}}`}},
		{"cluster ok", nil, nil, nil, "/health/cluster", want{200, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":{"status":"ok","check_type":"cluster","message":"cluster is healthy"}}`}},
		{"cluster down", nil, nil, errTest, "/health/cluster", want{503, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":{"status":"unhealthy","check_type":"cluster","message":"no leader"}}`}},

		{"liveness ok", nil, nil, nil, "/cluster/healthy", want{200, "application/json; charset=utf-8",
			`{"code":0,"message":"success","data":true}`}},
		{"liveness down", nil, errTest, nil, "/cluster/healthy", want{503, "application/json; charset=utf-8",
			`{"code":0,"message":"no leader","data":false}`}},

		{"cockroach ok", nil, nil, nil, "/api/v2/health/", want{200, "application/json; charset=utf-8", `{}`}},
		{"cockroach no slash", nil, nil, nil, "/api/v2/health", want{200, "application/json; charset=utf-8", `{}`}},
		{"cockroach liveness ignores readiness", errTest, nil, nil, "/api/v2/health/", want{200, "application/json; charset=utf-8", `{}`}},
		{"cockroach ready ok", nil, nil, nil, "/api/v2/health/?ready=true", want{200, "application/json; charset=utf-8", `{}`}},
		{"cockroach ready=false", errTest, nil, nil, "/api/v2/health/?ready=false", want{200, "application/json; charset=utf-8", `{}`}},
		{"cockroach not ready", errTest, nil, nil, "/api/v2/health/?ready=true", want{503, "text/plain; charset=utf-8", "node is not ready: no leader\n"}},
		{"cockroach not live", nil, errTest, nil, "/api/v2/health", want{503, "text/plain; charset=utf-8", "node is not healthy: no leader\n"}},
		{"cockroach bad ready", nil, nil, nil, "/api/v2/health/?ready=maybe", want{400, "text/plain; charset=utf-8",
			"invalid value for ready: \"maybe\" is not a boolean\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.set(c.ready, c.node, c.cluster)
			status, hdr, body := get(t, base+c.path)
			if status != c.want.status || body != c.want.body || hdr.Get("Content-Type") != c.want.ctype {
				t.Errorf("GET %s = %d %q %q\nwant %d %q %q", c.path, status, hdr.Get("Content-Type"), body,
					c.want.status, c.want.ctype, c.want.body)
			}
		})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.noDeadline {
		t.Error("a health check ran without the 2 s deadline")
	}
}

func TestHealthHeadAndNilSource(t *testing.T) {
	s, _ := testServer(t, Options{}, nil)
	for _, p := range []string{"/admin/health", "/health/ready", "/cluster/healthy", "/api/v2/health/"} {
		if status, _, _ := do(t, nil, http.MethodHead, s.URL()+p, nil); status != http.StatusOK {
			t.Errorf("HEAD %s = %d, want 200", p, status)
		}
	}
	// A POST to a GET-only route is 405 with Allow.
	status, hdr, body := do(t, nil, http.MethodPost, s.URL()+"/admin/health", nil)
	if status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /admin/health = %d Allow=%q %q", status, hdr.Get("Allow"), body)
	}
}
