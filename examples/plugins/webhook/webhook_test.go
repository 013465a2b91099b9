package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// endpoint records what the webhook POSTs.
type endpoint struct {
	mu     sync.Mutex
	bodies []string
	auth   []string
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, string(b))
	e.auth = append(e.auth, r.Header.Get("Authorization"))
	e.mu.Unlock()
	if strings.Contains(string(b), `"fail"`) {
		http.Error(w, "no", http.StatusBadGateway)
	}
}

func TestWebhook(t *testing.T) {
	wasm := plugintest.Build(t, ".")
	ep := &endpoint{}
	srv := httptest.NewServer(ep)
	defer srv.Close()

	p := plugintest.Load(t, wasm, plugin.Manifest{AllowedHosts: []string{"127.0.0.1:*"}})
	if d := p.Describe(); d.Name != "webhook" || d.Kind != plugin.KindConnector || d.ABIVersion != 1 {
		t.Fatalf("describe = %+v", d)
	}

	t.Run("batch", func(t *testing.T) {
		c := p.Open(`{"url": "` + srv.URL + `", "headers": {"Authorization": "Bearer x"}}`)
		c.Write(plugintest.Records(`{"n":1}`, "plain")...)
		ep.mu.Lock()
		defer ep.mu.Unlock()
		if len(ep.bodies) != 1 || ep.auth[0] != "Bearer x" {
			t.Fatalf("got %d requests, auth %v", len(ep.bodies), ep.auth)
		}
		var msgs []map[string]any
		if err := json.Unmarshal([]byte(ep.bodies[0]), &msgs); err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || msgs[0]["value"].(map[string]any)["n"] != 1.0 || msgs[1]["value"] != "plain" {
			t.Fatalf("body = %s", ep.bodies[0])
		}
	})

	t.Run("per record, partial failure", func(t *testing.T) {
		c := p.Open(`{"url": "` + srv.URL + `", "mode": "record"}`)
		n, err := c.Connector.Write(t.Context(), plugintest.Records(`"a"`, `"fail"`, `"c"`))
		var ge *plugin.GuestError
		if n != 1 || !errors.As(err, &ge) || !strings.Contains(err.Error(), "502") {
			t.Fatalf("write = %d, %v; want 1 accepted and a 502", n, err)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		for _, cfg := range []string{`{}`, `{"url": "x", "mode": "stream"}`, `{"url": "x", "color": 1}`} {
			if _, err := p.OpenConnector(t.Context(), []byte(cfg)); err == nil {
				t.Errorf("open %s succeeded", cfg)
			}
		}
	})
}

func TestWebhookDeniedHost(t *testing.T) {
	wasm := plugintest.Build(t, ".")
	srv := httptest.NewServer(&endpoint{})
	defer srv.Close()
	p := plugintest.Load(t, wasm, plugin.Manifest{}) // nothing allowed
	c := p.Open(`{"url": "` + srv.URL + `"}`)
	_, err := c.Connector.Write(t.Context(), plugintest.Records("x"))
	if err == nil || !strings.Contains(err.Error(), "allowed_hosts") {
		t.Fatalf("write to a host the manifest does not allow: %v", err)
	}
}

// TestConformance runs the SDK's conformance kit, the checks every Trellis
// plugin passes, against the built webhook.
func TestConformance(t *testing.T) {
	wasm := plugintest.Build(t, ".")
	srv := httptest.NewServer(&endpoint{})
	defer srv.Close()
	plugintest.RunConformance(t, wasm, plugintest.Conformance{
		Manifest:  plugin.Manifest{AllowedHosts: []string{"127.0.0.1:*"}},
		Config:    `{"url": "` + srv.URL + `"}`,
		BadConfig: `{"url": "` + srv.URL + `", "mode": "stream"}`,
	})
}
