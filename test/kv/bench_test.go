package kvtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/internal/testutil"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// BenchmarkV3Put drives PUT /api/kv/v3/put on a one-node cluster in this
// process, over loopback HTTP with keep-alive clients, the way test/loadkv
// does: allocations and CPU per put of the whole path (HTTP, auth, audit,
// raft, WAL, apply), with -benchmem, -cpuprofile and -memprofile.
func BenchmarkV3Put(b *testing.B) {
	tc := testnode.Start(b, 1, func(cfg *config.Config) {
		cfg.HTTP.RateLimit = 0
		cfg.Auth.AdminPassword = adminPassword
		cfg.Log.Level = "error"
	})
	base := tc.Node(1).Base
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	var login struct {
		Token string `json:"session_token"`
	}
	testnode.Eventually(b, 20*time.Second, "admin can log in", func() bool {
		resp, err := http.Post(base+"/api/auth/login", "application/json", bytes.NewReader(body))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&login) == nil && login.Token != ""
	})
	auth := "Bearer " + login.Token
	value := strconv.Quote(string(bytes.Repeat([]byte("v"), 256)))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testutil.MustProcessCPU(b)
	defer func() {
		// Client and server share the process: CPU per put covers both,
		// and moves less between runs than ns/op on a busy machine.
		b.ReportMetric(float64((testutil.MustProcessCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := seq.Add(1) % 10000
			req, _ := http.NewRequest(http.MethodPut, base+"/api/kv/v3/put",
				bytes.NewReader(fmt.Appendf(nil, `{"key":"/bench/%d","value":%s}`, k, value)))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("put: %s", resp.Status)
				return
			}
		}
	})
}
