package main

// trellis snapshot: save downloads a member's snapshot through the
// operator module's GET /api/ops/snapshot; restore turns a snapshot file
// into the data directory of a new one-member cluster, offline.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/modules/operator"
)

func snapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save a member's snapshot, or restore one into a new data directory",
		Long: `save downloads a consistent snapshot of one member's data from a running node (an
operator session is needed: see ` + "`trellis login`" + `). restore, offline, turns a snapshot
file into the data directory of a new one-member cluster with the same data at the
same revision; start a node on it with ` + "`trellis serve`" + ` and add members with --join.`,
	}
	cmd.AddCommand(snapshotSaveCmd(), snapshotRestoreCmd())
	return cmd
}

func snapshotSaveCmd() *cobra.Command {
	var memberID uint64
	var opts *clientOptions
	cmd := &cobra.Command{
		Use:   "save FILE [--member-id N]",
		Short: "Download a snapshot of a member's data to FILE",
		Long: `Download a snapshot of one member's data (--member-id, default the member that
answers) to FILE. The file appears only once the whole snapshot has arrived and
matches the size and SHA-256 the member sent; then its revision, size and SHA-256
are printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := opts.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var member string
			if cmd.Flags().Changed("member-id") {
				member = strconv.FormatUint(memberID, 10)
			}
			res, err := downloadSnapshot(ctx, c, member, args[0])
			if err != nil {
				return fmt.Errorf("snapshot save: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved snapshot to %s\nrevision: %s\nsize: %d bytes\nsha256: %s\n",
				args[0], res.revision, res.size, res.sha256)
			return nil
		},
	}
	cmd.Flags().Uint64Var(&memberID, "member-id", 0, "the member `N` to snapshot (default: the node at --endpoint)")
	opts = addClientFlags(cmd) // restore is offline: only save talks to a node
	return cmd
}

// savedSnapshot is what save learned of the file it wrote.
type savedSnapshot struct {
	revision string
	size     int64
	sha256   string
}

// downloadSnapshot streams the snapshot into a temporary file beside
// path, checks it against the trailers the member sent, syncs it and
// renames it into place.
func downloadSnapshot(ctx context.Context, c *apiClient, member, path string) (savedSnapshot, error) {
	q := url.Values{}
	if member != "" {
		q.Set("member_id", member)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"/api/ops/snapshot?"+q.Encode(), nil)
	if err != nil {
		return savedSnapshot{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// No overall timeout: a large snapshot takes what it takes.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return savedSnapshot{}, fmt.Errorf("cannot reach %s: %w", c.endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return savedSnapshot{}, &apiError{Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return savedSnapshot{}, err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, sum), resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return savedSnapshot{}, fmt.Errorf("download interrupted after %d bytes: %w", n, err)
	}
	res, err := checkSnapshotTrailer(resp.Trailer, n, sum)
	if err != nil {
		return savedSnapshot{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return savedSnapshot{}, err
	}
	return res, nil
}

// checkSnapshotTrailer compares what arrived with what the member says it
// sent.
func checkSnapshotTrailer(t http.Header, n int64, sum hash.Hash) (savedSnapshot, error) {
	res := savedSnapshot{revision: t.Get(operator.SnapshotRevisionTrailer), size: n, sha256: hex.EncodeToString(sum.Sum(nil))}
	size, sha := t.Get(operator.SnapshotSizeTrailer), t.Get(operator.SnapshotSHA256Trailer)
	if res.revision == "" || size == "" || sha == "" {
		return res, errors.New("the member did not confirm the snapshot was complete (no size or checksum trailer); not saved")
	}
	if size != strconv.FormatInt(n, 10) || sha != res.sha256 {
		return res, fmt.Errorf("received %d bytes with sha256 %s, but the member sent %s bytes with sha256 %s; not saved", n, res.sha256, size, sha)
	}
	return res, nil
}

func snapshotRestoreCmd() *cobra.Command {
	var (
		dataDir            string
		nodeID             uint64
		name               string
		raftAddr, httpAddr string
	)
	cmd := &cobra.Command{
		Use:   "restore FILE --data-dir DIR [--node-id N] [--name NAME] [--raft-addr HOST:PORT] [--http-addr HOST:PORT]",
		Short: "Turn a snapshot into the data directory of a new one-member cluster (offline)",
		Long: `Restore FILE, written by ` + "`trellis snapshot save`" + `, into DIR, which must not hold
raft or state data yet. The result is a one-member cluster whose member is N at the
given addresses, with the snapshot's data at its revision. Nothing needs to run;
start the node afterwards with the command this prints.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				return errors.New("--data-dir is required")
			}
			if nodeID == 0 {
				return errors.New("--node-id: want an id >= 1")
			}
			for flag, addr := range map[string]string{"--raft-addr": raftAddr, "--http-addr": httpAddr} {
				if _, _, err := net.SplitHostPort(addr); err != nil {
					return fmt.Errorf("%s: want HOST:PORT, got %q", flag, addr)
				}
			}
			if name == "" {
				name = "node-" + strconv.FormatUint(nodeID, 10)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("snapshot restore: %w", err)
			}
			defer f.Close()
			m := raft.Member{ID: nodeID, Name: name, PeerAddr: raftAddr, HTTPAddr: httpAddr}
			info, err := store.RestoreSnapshot(cmd.Context(), f, dataDir, m)
			if err != nil {
				return fmt.Errorf("snapshot restore %s into %s: %w", args[0], dataDir, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored %s into %s as member %d (%s)\nrevision: %d\nsize: %d bytes\nsha256: %s\n",
				args[0], dataDir, nodeID, name, info.Revision, info.Size, info.SHA256)
			env := "" // serve has no --name flag; node.name comes from the config or the environment
			if name != "node-"+strconv.FormatUint(nodeID, 10) {
				env = "TRELLIS_NODE_NAME=" + name + " "
			}
			fmt.Fprintf(out, "start the node with:\n  %strellis serve --data-dir %s --node-id %d --raft-addr %s --http-addr %s\n",
				env, dataDir, nodeID, raftAddr, httpAddr)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dataDir, "data-dir", "", "the new node's data `DIR` (required; must hold no raft or state data)")
	fs.Uint64Var(&nodeID, "node-id", 1, "the new member's id `N`")
	fs.StringVar(&name, "name", "", "the new member's `NAME` (default node-<id>)")
	fs.StringVar(&raftAddr, "raft-addr", "127.0.0.1:7000", "the new member's raft address `HOST:PORT`")
	fs.StringVar(&httpAddr, "http-addr", "127.0.0.1:8080", "the new member's HTTP address `HOST:PORT`")
	return cmd
}
