package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// loadTLS builds the server's TLS config from a certificate and key file,
// or returns nil when neither is set. Setting only one is a config error:
// serving plain HTTP when the operator asked for TLS would be worse than
// not starting. Loading happens in Start so a bad file stops start-up with
// a line naming it.
//
// With a CA file, clients that present a certificate must present one
// signed by that CA; clients without one (browsers, curl) still connect and
// authenticate with a session as usual.
func loadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("http.tls: cert_file and key_file must both be set")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls: load cert_file %s and key_file %s: %w", certFile, keyFile, err)
	}
	conf := &tls.Config{
		// TLS 1.0 and 1.1 are deprecated (RFC 8996).
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.tls: ca_file %s holds no certificate", caFile)
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return conf, nil
}
