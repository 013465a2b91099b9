package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

func TestPortInUse(t *testing.T) {
	a, _ := testServer(t, Options{}, nil)
	b := New(Options{Addr: a.Addr()})
	err := b.Start()
	if err == nil {
		_ = b.Shutdown(context.Background())
		t.Fatal("second server on the same port started")
	}
	if want := fmt.Sprintf("http: listen %s: address already in use", a.Addr()); err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("err does not match EADDRINUSE")
	}
	// Shutdown of a server that never started is a no-op.
	if err := b.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown unstarted: %v", err)
	}
}

func TestAddrPortZero(t *testing.T) {
	s, _ := testServer(t, Options{}, nil)
	_, port, err := net.SplitHostPort(s.Addr())
	if err != nil || port == "0" {
		t.Fatalf("Addr() = %q", s.Addr())
	}
	if err := s.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestGracefulShutdownWaitsForInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := New(Options{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second})
	s.Router().Get("/api/kv/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	url := s.URL()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/api/kv/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()

	select {
	case <-s.Draining():
	case <-time.After(2 * time.Second):
		t.Fatal("Draining not closed after Shutdown began")
	}
	// New connections are refused while the slow request drains.
	waitRefused(t, s.Addr())
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the in-flight request finished", err)
	case <-time.After(100 * time.Millisecond):
	}

	close(release)
	if r := <-got; r.err != nil || r.status != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return after the request finished")
	}
}

func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("listener still accepting after Shutdown began")
}

func TestShutdownTimeoutClosesStuckRequests(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	s := New(Options{Addr: "127.0.0.1:0", ShutdownTimeout: 100 * time.Millisecond})
	s.Router().Get("/api/kv/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // ignores Draining: only the forced close ends it
		ended <- r.Context().Err()
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = http.Get(s.URL() + "/api/kv/stuck") }()
	<-started
	start := time.Now()
	err := s.Shutdown(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v with a 100ms timeout", d)
	}
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("stuck handler's context not cancelled after forced close")
	}
}

// A stream that watches httpx.Draining ends promptly on Shutdown instead
// of holding it until the timeout.
func TestShutdownEndsStreams(t *testing.T) {
	started := make(chan struct{})
	s := New(Options{Addr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second})
	s.Router().Get("/api/kv/watch", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		close(started)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-httpx.Draining(r.Context()):
				fmt.Fprint(w, "event: shutdown\n\n")
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
				fmt.Fprint(w, ": ping\n\n")
				w.(http.Flusher).Flush()
			}
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL() + "/api/kv/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-started
	bodyDone := make(chan string, 1)
	go func() { b, _ := io.ReadAll(resp.Body); bodyDone <- string(b) }()

	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v: the stream held it", d)
	}
	if body := <-bodyDone; !strings.HasSuffix(body, "event: shutdown\n\n") {
		t.Fatalf("stream did not end cleanly: %q", body)
	}
	// Shutdown twice is fine.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s, _ := testServer(t, Options{TLSCertFile: certFile, TLSKeyFile: keyFile}, func(r chi.Router) {})
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL() = %q", s.URL())
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get(s.URL() + "/admin/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "OK" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("https: %d %q %+v", resp.StatusCode, body, resp.TLS)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("proto %s, want HTTP/2 over TLS", resp.Proto)
	}

	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
	}}}
	if _, err := old.Get(s.URL() + "/admin/health"); err == nil {
		t.Error("TLS 1.1 client connected")
	}
	// Plain HTTP to the TLS port fails.
	if status, _, _ := get(t, "http://"+s.Addr()+"/admin/health"); status != http.StatusBadRequest {
		t.Errorf("plain HTTP to TLS port: %d", status)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	certFile, _, _ := selfSigned(t)
	if err := New(Options{Addr: "127.0.0.1:0", TLSCertFile: certFile}).Start(); err == nil ||
		!strings.Contains(err.Error(), "cert_file and key_file must both be set") {
		t.Errorf("cert without key: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.key")
	err := New(Options{Addr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: missing}).Start()
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing key file: %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns its
// files and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "trellis-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
