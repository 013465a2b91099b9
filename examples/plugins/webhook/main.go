// Command webhook is an example Trellis connector plugin: it delivers each
// batch of records to an HTTP endpoint as one JSON POST (or one POST per
// record), through the host's HTTP client.
//
// It is written the way a user outside the Trellis repository would write
// one: its own module, the SDK as a dependency, a test that runs the built
// .wasm in the real host (webhook_test.go).
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o webhook.wasm .
//
// The operator's manifest must allow the endpoint's host (allowed_hosts),
// or every write fails with a denial.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/trellis-cp/trellis/sdk/connector"
	"github.com/trellis-cp/trellis/sdk/host"
	"github.com/trellis-cp/trellis/sdk/host/hosthttp"
)

func init() {
	connector.Register(connector.Info{
		Name:        "webhook",
		Version:     "1.0.0",
		Description: "POSTs records as JSON to an HTTP endpoint, one request per batch or per record.",
		Config: []connector.ConfigKey{
			{Name: "url", Type: "string", Required: true, Description: "endpoint to POST to (http or https)"},
			{Name: "mode", Type: "string", Default: "batch", Description: `"batch": one POST with a JSON array per batch; "record": one POST per record`},
			{Name: "timeout", Type: "duration", Default: "5s", Description: "timeout of one request"},
			{Name: "headers", Type: "object", Description: "extra request headers, name to value"},
		},
	}, func() connector.Connector { return &webhook{} })
}

type webhook struct {
	url     string
	perRec  bool
	headers map[string]string
	client  *http.Client
	sent    int
}

func (w *webhook) Open(cfg connector.Config) error {
	var c struct {
		URL     string            `json:"url"`
		Mode    string            `json:"mode"`
		Headers map[string]string `json:"headers"`
	}
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	timeout, err := cfg.Duration("timeout")
	if err != nil {
		return err
	}
	switch c.Mode {
	case "batch":
	case "record":
		w.perRec = true
	default:
		return fmt.Errorf("mode %q: want batch or record", c.Mode)
	}
	w.url, w.headers = c.URL, c.Headers
	w.client = hosthttp.ClientWithTimeout(timeout)
	host.Info("webhook opened", "url", c.URL, "mode", c.Mode)
	return nil
}

// message is a record as the endpoint receives it. A value that is valid
// JSON is embedded as is; any other value is sent as a string (base64 if
// it is not UTF-8).
type message struct {
	Offset    uint64            `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       string            `json:"key,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Value     json.RawMessage   `json:"value"`
}

func toMessage(r connector.Record) message {
	m := message{Offset: r.Offset, Timestamp: r.Time.UTC(), Key: string(r.Key)}
	if len(r.Headers) > 0 {
		m.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			m.Headers[h.Key] = string(h.Value)
		}
	}
	switch {
	case json.Valid(r.Value):
		m.Value = append(json.RawMessage(nil), r.Value...)
	case utf8.Valid(r.Value):
		m.Value, _ = json.Marshal(string(r.Value))
	default:
		m.Value, _ = json.Marshal(r.Value) // []byte marshals as base64
	}
	return m
}

func (w *webhook) Write(batch []connector.Record) error {
	if len(batch) == 0 {
		return nil
	}
	if w.perRec {
		return connector.EachRecord(batch, func(r connector.Record) error {
			return w.post(toMessage(r))
		})
	}
	msgs := make([]message, len(batch))
	for i, r := range batch {
		msgs[i] = toMessage(r)
	}
	return w.post(msgs)
}

func (w *webhook) post(v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", w.url, resp.Status)
	}
	w.sent++
	host.Counter("requests", 1)
	return nil
}

func (w *webhook) Close() error {
	host.Info("webhook closed", "requests", w.sent)
	return nil
}

func main() {}
