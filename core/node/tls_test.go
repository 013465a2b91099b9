package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// writeCerts makes a CA and one certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trellis test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "trellis node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("node.pem", "CERTIFICATE", leafDER), write("node.key", "EC PRIVATE KEY", keyDER)
}

// TestStaticClusterOverMutualTLS starts a 3-node cluster from
// raft.initial_cluster with raft.tls set: peers only talk over verified TLS.
func TestStaticClusterOverMutualTLS(t *testing.T) {
	ca, cert, key := writeCerts(t, t.TempDir())
	var cfgs []*config.Config
	var initial []string
	for id := uint64(1); id <= 3; id++ {
		cfg := testConfig(t)
		cfg.Node.ID = id
		cfg.Raft.TLS = config.TLSConfig{CertFile: cert, KeyFile: key, CAFile: ca}
		cfgs = append(cfgs, cfg)
		initial = append(initial, fmt.Sprintf("%d=%s", id, cfg.Raft.Addr))
	}
	var nodes []*Node
	for _, cfg := range cfgs {
		cfg.Raft.InitialCluster = strings.Join(initial, ",")
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNodeNoWait(t, cfg))
	}
	testutil.Eventually(t, 15*time.Second, "a leader over TLS", func() bool {
		for _, n := range nodes {
			if n.Store().Raft().Leader() == 0 {
				return false
			}
		}
		return true
	})
	a, _ := nodes[0].Store().Namespace("kv")
	b, _ := nodes[2].Store().Namespace("kv")
	if _, err := a.Put(t.Context(), "secret", []byte("over tls"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(t.Context(), "secret", store.ReadOptions{})
	if err != nil || string(got.Value) != "over tls" {
		t.Fatalf("read on node 3: %v %+v", err, got)
	}
	// The raft port speaks TLS and refuses a client without a certificate.
	_, clientTLS, err := peerTLS(cfgs[0].Raft.TLS)
	if err != nil {
		t.Fatal(err)
	}
	anon := clientTLS.Clone()
	anon.Certificates = nil
	conn, err := tls.Dial("tcp", cfgs[1].Raft.Addr, anon)
	if err == nil {
		// TLS 1.3 reports a missing client certificate on the first read.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("anonymous TLS client was not refused: %v", err)
	}
}

// TestHTTPSWithClientCA: the HTTP port serves TLS from http.tls; with a CA
// file, a client certificate signed by another CA is refused while clients
// without one still connect.
func TestHTTPSWithClientCA(t *testing.T) {
	ca, cert, key := writeCerts(t, t.TempDir())
	_, otherCert, otherKey := writeCerts(t, t.TempDir())
	cfg := testConfig(t)
	cfg.HTTP.TLS = config.TLSConfig{CertFile: cert, KeyFile: key, CAFile: ca}
	n := startNode(t, cfg)

	pem, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	get := func(certs []tls.Certificate) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		resp, err := c.Get("https://" + n.HTTPAddr() + "/admin/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(nil); err != nil {
		t.Fatalf("HTTPS without a client certificate: %v", err)
	}
	good, _ := tls.LoadX509KeyPair(cert, key)
	if err := get([]tls.Certificate{good}); err != nil {
		t.Fatalf("HTTPS with the cluster's client certificate: %v", err)
	}
	bad, _ := tls.LoadX509KeyPair(otherCert, otherKey)
	if err := get([]tls.Certificate{bad}); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
}
