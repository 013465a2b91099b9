package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/core/raft"
)

// forwardedHeader marks a request one member forwarded to another; its
// value is the forwarding member's id.
const forwardedHeader = "X-Trellis-Forwarded-By"

// peerHTTP is module.Peers: it reaches other members' HTTP APIs at the
// address each announced, over TLS when this node serves TLS (trusting
// http.tls.ca_file when set and presenting this node's certificate, so
// clusters that require client certificates work too).
type peerHTTP struct {
	self      uint64
	members   func() []raft.Member
	scheme    string
	transport *http.Transport
}

var _ module.Peers = (*peerHTTP)(nil)

func newPeerHTTP(n *Node) (*peerHTTP, error) {
	p := &peerHTTP{
		self:    n.cfg.Node.ID,
		members: func() []raft.Member { return n.store.Raft().Members() },
		scheme:  "http",
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.ResponseHeaderTimeout = 0 // snapshots and defragments take their time
	if t := n.cfg.HTTP.TLS; t.CertFile != "" {
		p.scheme = "https"
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("node: peer HTTP client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("node: peer HTTP CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("node: peer HTTP CA %s: no certificates", t.CAFile)
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
	}
	p.transport = tr
	return p, nil
}

var errNoHTTPAddr = errors.New("has not announced its HTTP address yet")

// base is member id's URL root.
func (p *peerHTTP) base(id uint64) (*url.URL, error) {
	for _, m := range p.members() {
		if m.ID != id {
			continue
		}
		if m.HTTPAddr == "" {
			return nil, fmt.Errorf("member %d %w", id, errNoHTTPAddr)
		}
		return &url.URL{Scheme: p.scheme, Host: m.HTTPAddr}, nil
	}
	return nil, fmt.Errorf("%w: %d", raft.ErrUnknownMember, id)
}

func (p *peerHTTP) Forward(w http.ResponseWriter, r *http.Request, id uint64) {
	target, err := p.base(id)
	if err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, raft.ErrUnknownMember) {
			status = http.StatusNotFound
		}
		httpx.Error(w, r, status, err.Error())
		return
	}
	audit.Skip(r.Context())
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set(forwardedHeader, strconv.FormatUint(p.self, 10))
		},
		Transport:     p.transport,
		FlushInterval: -1, // stream (snapshots) as it comes
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			httpx.Error(w, r, http.StatusBadGateway, fmt.Sprintf("member %d at %s: %v", id, target.Host, err))
		},
	}
	rp.ServeHTTP(w, r)
}

func (p *peerHTTP) Forwarded(r *http.Request) bool { return r.Header.Get(forwardedHeader) != "" }

func (p *peerHTTP) Do(ctx context.Context, id uint64, req *http.Request) (*http.Response, error) {
	target, err := p.base(id)
	if err != nil {
		return nil, err
	}
	out := req.Clone(ctx)
	out.URL.Scheme, out.URL.Host, out.Host = target.Scheme, target.Host, target.Host
	out.RequestURI = ""
	out.Header.Set(forwardedHeader, strconv.FormatUint(p.self, 10))
	resp, err := (&http.Client{Transport: p.transport, Timeout: 5 * time.Minute}).Do(out)
	if err != nil {
		return nil, fmt.Errorf("member %d at %s: %w", id, target.Host, err)
	}
	return resp, nil
}
