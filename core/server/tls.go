package server

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// loadTLS builds the server's TLS config from a certificate and key file,
// or returns nil when neither is set. Setting only one is a config error:
// serving plain HTTP when the operator asked for TLS would be worse than
// not starting. Loading happens in Start so a bad file stops start-up with
// a line naming it.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
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
	return &tls.Config{
		// TLS 1.0 and 1.1 are deprecated (RFC 8996).
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}
