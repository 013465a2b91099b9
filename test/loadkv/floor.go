package main

// The HTTP floor: the same load against Go net/http servers that decode each
// request and answer etcdmonitor's shape without storing anything. Its
// figures are the most this driver and this machine allow any Go HTTP server
// in Trellis's place, which puts the Trellis/etcd ratio in context.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// envFloorMode makes this binary run as one floor server on the address
// in its value.
const envFloorMode = "LOADKV_FLOOR"

// floorCluster is size floor servers. Requests are Trellis's requests
// (same paths, bodies and Authorization header), so the driver's own work
// per request is the same.
type floorCluster struct{ trellisCluster }

func (c *floorCluster) Name() string { return "http-floor" }

// Storage: a floor server stores nothing.
func (c *floorCluster) Storage(context.Context) storageStats { return storageStats{} }

// startFloor starts size floor servers, each its own process like a node.
func startFloor(ctx context.Context, dir string, size int) (_ *floorCluster, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	ports, err := freePorts(size)
	if err != nil {
		return nil, err
	}
	c := &floorCluster{trellisCluster{auth: "Bearer floor"}}
	defer func() {
		if err != nil {
			stopAll(c.procs)
		}
	}()
	for i, port := range ports {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		p, err := startProc(fmt.Sprintf("floor server %d", i+1), filepath.Join(dir, fmt.Sprintf("floor%d.log", i+1)),
			[]string{envFloorMode + "=" + addr}, self)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.eps = append(c.eps, "http://"+addr)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if err := waitReady(ctx, c.procs, c.eps, "answered", func(ep string) error {
		r, err := c.NewRequest("get", ep, "/loadkv/probe", nil)
		if err != nil {
			return err
		}
		req, err := r.http(ctx)
		if err != nil {
			return err
		}
		_, err = do(hc, req, nil)
		return err
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// floorNode is the answer body's node: the fields a Trellis put or get
// answers with.
type floorNode struct {
	Key           string `json:"key"`
	Value         string `json:"value"`
	CreatedIndex  int64  `json:"createdIndex"`
	ModifiedIndex int64  `json:"modifiedIndex"`
	Version       int64  `json:"version"`
}

// runFloor serves until killed: PUT /api/kv/v3/put decodes the body as
// Trellis does (unknown fields refused) and echoes it with the next index;
// GET /api/kv/v3/get answers the key with the last value put. Both check
// there is an Authorization header, nothing more.
func runFloor(addr string) int {
	var (
		index atomic.Int64
		last  atomic.Pointer[string]
	)
	empty := ""
	last.Store(&empty)
	answer := func(w http.ResponseWriter, n floorNode) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]floorNode{"node": n})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /api/kv/v3/put", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var req struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Key == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		i := index.Add(1)
		last.Store(&req.Value)
		answer(w, floorNode{Key: req.Key, Value: req.Value, CreatedIndex: i, ModifiedIndex: i, Version: 1})
	})
	mux.HandleFunc("GET /api/kv/v3/get", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		i := index.Load()
		answer(w, floorNode{Key: r.URL.Query().Get("key"), Value: *last.Load(), CreatedIndex: i, ModifiedIndex: i, Version: 1})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	return 0
}
