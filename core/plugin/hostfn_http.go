package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

const maxRedirects = 10

// errDenied marks a refusal found inside the HTTP client (a redirect hop or
// a dial), so http_request can answer ErrnoDenied rather than an I/O error.
type errDenied struct{ msg string }

func (e *errDenied) Error() string { return e.msg }

// newHTTPClient is the plugin's own client: its own connection pool, no
// proxy from the node's environment, every redirect hop and every dial
// checked against the manifest. A plugin's requests never reach a host
// that allowed_hosts does not name, even through a redirect (Extism checks
// only the first URL).
func (p *Plugin) newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || !hostAllowed(p.manifest.AllowedHosts, host, port) {
				return nil, &errDenied{fmt.Sprintf("dial %s: not in allowed_hosts", addr)}
			}
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        32,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if reason := p.urlDenied(req.URL); reason != "" {
				msg := fmt.Sprintf("redirect from %s to %s denied: %s", via[len(via)-1].URL.Redacted(), req.URL.Redacted(), reason)
				if in := instanceFrom(req.Context()); in != nil {
					in.deny("http", "%s", msg)
				}
				return &errDenied{msg}
			}
			return nil
		},
	}
}

// urlDenied returns why u may not be fetched, or "".
func (p *Plugin) urlDenied(u *url.URL) string {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("scheme %q (http and https only)", u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !hostAllowed(p.manifest.AllowedHosts, u.Hostname(), port) {
		return fmt.Sprintf("host %s is not in allowed_hosts", net.JoinHostPort(u.Hostname(), port))
	}
	return ""
}

// hostHTTPRequest performs a request and returns a response handle once
// the final response's head has arrived. The request is bounded by the
// plugin call's deadline; the response lives until http_close or the end
// of the call.
func hostHTTPRequest(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	view, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "request outside memory")
		return
	}
	r, err := abi.DecodeHTTPRequest(view)
	if err != nil {
		stack[0] = in.errno(abi.ErrnoInvalid, "malformed request: %v", err)
		return
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		stack[0] = in.errno(abi.ErrnoInvalid, "bad URL %q", r.URL)
		return
	}
	if reason := in.p.urlDenied(u); reason != "" {
		stack[0] = in.deny("http", "%s %s: %s", r.Method, u.Redacted(), reason)
		return
	}
	req, err := http.NewRequestWithContext(in.callContext(), r.Method, u.String(), bytes.NewReader(bytes.Clone(r.Body)))
	if err != nil {
		stack[0] = in.errno(abi.ErrnoInvalid, "request: %v", err)
		return
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h.Key, "Host") {
			req.Host = string(h.Value)
			continue
		}
		req.Header.Add(h.Key, string(h.Value))
	}
	resp, err := in.p.http.Do(req)
	if err != nil {
		var denied *errDenied
		switch {
		case errors.As(err, &denied):
			stack[0] = errnoResult(abi.ErrnoDenied)
			in.lastErr = denied.msg
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
			stack[0] = in.errno(abi.ErrnoTimeout, "%s %s: call deadline passed", r.Method, u.Redacted())
		default:
			stack[0] = in.errno(abi.ErrnoIO, "%s %s: %v", r.Method, u.Redacted(), unwrapURLError(err))
		}
		return
	}
	head := abi.HTTPHead{Status: resp.StatusCode}
	for k, vs := range resp.Header {
		for _, v := range vs {
			head.Headers = append(head.Headers, abi.Header{Key: k, Value: []byte(v)})
		}
	}
	id, code := in.handles.add(&handle{kind: handleHTTP, callScoped: true, resp: resp,
		head: abi.AppendHTTPHead(nil, &head)})
	if code != 0 {
		stack[0] = in.errno(code, "too many open handles (max_handles %d)", in.handles.max)
		return
	}
	stack[0] = api.EncodeI32(id)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// hostHTTPResponse writes the response head (status and headers).
func hostHTTPResponse(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleHTTP)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no HTTP response %d", api.DecodeI32(stack[0]))
		return
	}
	stack[0] = in.writeLimited(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), h.head)
}

// hostHTTPBodyRead reads the next chunk of the body straight into the
// guest's buffer.
func hostHTTPBodyRead(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	h := in.handles.get(api.DecodeI32(stack[0]), handleHTTP)
	if h == nil {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no HTTP response %d", api.DecodeI32(stack[0]))
		return
	}
	buf, ok := in.readBuffer(mod, stack)
	if !ok {
		return
	}
	n, err := io.ReadAtLeast(h.resp.Body, buf, 1)
	switch {
	case n > 0:
		stack[0] = api.EncodeI32(int32(n))
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		stack[0] = 0
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		stack[0] = in.errno(abi.ErrnoTimeout, "response body: call deadline passed")
	default:
		stack[0] = in.errno(abi.ErrnoIO, "response body: %v", err)
	}
}

// hostHTTPClose releases a response.
func hostHTTPClose(in *instance, _ context.Context, _ api.Module, stack []uint64) {
	if !in.handles.remove(api.DecodeI32(stack[0]), handleHTTP) {
		stack[0] = in.errno(abi.ErrnoBadHandle, "no HTTP response %d", api.DecodeI32(stack[0]))
		return
	}
	stack[0] = 0
}

// maxChunk bounds one read or write through the host.
const maxChunk = 1 << 20
