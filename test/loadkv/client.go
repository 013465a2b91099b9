package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// request is one prepared operation, as the driver sends it.
type request struct {
	method      string
	url         string
	contentType string
	auth        string
	body        []byte
}

// http is r as a net/http request, for the set-up probes.
func (r request) http(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return nil, err
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	return req, nil
}

// loadClient sends the measured requests. It is fasthttp's client, as load
// tools such as bombardier use, rather than net/http's: net/http hands every
// request and answer between the caller's goroutine and a reader and a
// writer goroutine per connection, and on two CPUs the driver's share of
// them (0.6 CPU at 10,000 requests a second) was CPU the servers measured
// did not get. fasthttp reads and writes on the caller's goroutine.
type loadClient struct {
	c *fasthttp.Client
}

func newLoadClient(clients int) *loadClient {
	return &loadClient{c: &fasthttp.Client{
		MaxConnsPerHost:          clients,
		MaxIdleConnDuration:      90 * time.Second,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             30 * time.Second,
		NoDefaultUserAgentHeader: true,
		// Header names go out as built; the servers do not care.
		DisableHeaderNamesNormalizing: true,
	}}
}

// worker is one client's reusable request and answer.
type worker struct {
	lc   *loadClient
	req  *fasthttp.Request
	resp *fasthttp.Response
}

func (lc *loadClient) worker() *worker {
	return &worker{lc: lc, req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse()}
}

func (w *worker) release() {
	fasthttp.ReleaseRequest(w.req)
	fasthttp.ReleaseResponse(w.resp)
}

// do sends r and returns the body of a 2xx answer (valid until the next
// do), or an error with the status and the start of the body.
func (w *worker) do(r request) ([]byte, error) {
	w.req.Reset()
	w.req.Header.SetMethod(r.method)
	w.req.SetRequestURI(r.url)
	if r.contentType != "" {
		w.req.Header.SetContentType(r.contentType)
	}
	if r.auth != "" {
		w.req.Header.Set("Authorization", r.auth)
	}
	w.req.SetBodyRaw(r.body)
	if err := w.lc.c.Do(w.req, w.resp); err != nil {
		return nil, err
	}
	body := w.resp.Body()
	if code := w.resp.StatusCode(); code < 200 || code > 299 {
		msg := strings.Join(strings.Fields(string(body)), " ")
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return body, fmt.Errorf("%d %s", code, msg)
	}
	return body, nil
}
