// Package hosthttp gives a plugin an http.RoundTripper backed by the host's
// http_request function, so http.Client and ordinary client libraries work
// inside a plugin. The host makes the request: it checks the URL's host
// against the manifest's allowed hosts, follows redirects (checking every
// hop), and bounds the exchange by the plugin call's deadline.
package hosthttp

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/hostcall"
)

// Transport is an http.RoundTripper over the host. The zero value is ready.
type Transport struct{}

// DefaultTransport is a ready Transport.
var DefaultTransport http.RoundTripper = Transport{}

// Client returns an http.Client using the host transport. Redirects are
// followed by the host, so the client sees the final response.
func Client() *http.Client { return &http.Client{Transport: Transport{}} }

// ClientWithTimeout is Client with a timeout, useful to bound one request below the call's
// deadline.
func ClientWithTimeout(d time.Duration) *http.Client {
	return &http.Client{Transport: Transport{}, Timeout: d}
}

// RoundTrip implements http.RoundTripper.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	var payload []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("hosthttp: read request body: %w", err)
		}
		payload = b
	}
	r := abi.HTTPRequest{Method: req.Method, URL: req.URL.String(), Body: payload}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if req.Host != "" && req.Host != req.URL.Host {
		r.Headers = append(r.Headers, abi.Header{Key: "Host", Value: []byte(req.Host)})
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Headers = append(r.Headers, abi.Header{Key: k, Value: []byte(v)})
		}
	}
	h, err := hostcall.HTTPRequest(abi.AppendHTTPRequest(nil, &r))
	if err != nil {
		return nil, err
	}
	raw, err := hostcall.HTTPResponse(h)
	if err != nil {
		hostcall.HTTPClose(h)
		return nil, err
	}
	head, err := abi.DecodeHTTPHead(raw)
	if err != nil {
		hostcall.HTTPClose(h)
		return nil, fmt.Errorf("hosthttp: response head: %w", err)
	}
	resp := &http.Response{
		Status:        strconv.Itoa(head.Status) + " " + http.StatusText(head.Status),
		StatusCode:    head.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(head.Headers)),
		Body:          &respBody{h: h},
		ContentLength: -1,
		Request:       req,
	}
	for _, hd := range head.Headers {
		resp.Header.Add(hd.Key, string(hd.Value))
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
			resp.ContentLength = n
		}
	}
	if req.Method == http.MethodHead {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// respBody reads a response body through http_body_read.
type respBody struct {
	h      int32
	closed bool
	eof    bool
}

func (b *respBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, fmt.Errorf("hosthttp: read on closed body")
	}
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := hostcall.HTTPBodyRead(b.h, p)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		b.eof = true
		return 0, io.EOF
	}
	return n, nil
}

func (b *respBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return hostcall.HTTPClose(b.h)
}
