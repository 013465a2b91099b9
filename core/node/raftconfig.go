package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/raft"
)

// raftConfig turns the config into the raft node's settings, joining a
// running cluster first when raft.join is set and this node has no data.
func (n *Node) raftConfig(ctx context.Context) (raft.Config, error) {
	c := n.cfg
	rc := raft.Config{
		ID:                     c.Node.ID,
		Name:                   c.NodeName(),
		PeerAddr:               c.RaftAdvertise(),
		HTTPAddr:               c.HTTPAdvertise(),
		SnapshotCount:          c.Raft.SnapshotCount,
		SnapshotCatchupEntries: c.Raft.SnapshotCatchupEntries,
		TickInterval:           c.Raft.TickInterval,
		ElectionTicks:          c.Raft.ElectionTicks,
		HeartbeatTicks:         c.Raft.HeartbeatTicks,
		RequestTimeout:         c.Raft.RequestTimeout,
		Logger:                 n.logger,
		Registry:               n.metrics.Registerer(),
	}
	members, err := c.InitialMembers()
	if err != nil {
		return rc, err
	}
	if len(members) > 1 {
		rc.InitialCluster = members
	}
	if c.Raft.TLS.Enabled() {
		rc.ServerTLS, rc.ClientTLS, err = peerTLS(c.Raft.TLS)
		if err != nil {
			return rc, err
		}
	}
	if c.Raft.Join != "" && !hasRaftData(c.Node.DataDir) {
		joined, err := n.join(ctx)
		if err != nil {
			return rc, err
		}
		rc.Join, rc.JoinMembers = true, joined
	}
	return rc, nil
}

func hasRaftData(dataDir string) bool {
	entries, err := os.ReadDir(filepath.Join(dataDir, "raft"))
	return err == nil && len(entries) > 0
}

// peerTLS builds mutual-TLS configs for the peer transport: with a CA file,
// each side verifies the other's certificate against it.
func peerTLS(t config.TLSConfig) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("config: raft.tls: load key pair: %w", err)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("config: raft.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("config: raft.tls.ca_file: no certificates in %s", t.CAFile)
		}
		server.ClientCAs, server.ClientAuth = pool, tls.RequireAndVerifyClientCert
		client.RootCAs = pool
	} else {
		client.InsecureSkipVerify = true //nolint:gosec // no CA configured: encryption without verification, documented
	}
	return server, client, nil
}
