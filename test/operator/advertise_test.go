package operatortest

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// bindAllAdvertiseLoopback makes a node listen on every interface and
// advertise the loopback address it was given, as a member behind NAT or
// in a container would.
func bindAllAdvertiseLoopback(cfg *config.Config) {
	wildcard := func(addr string) string {
		_, port, _ := net.SplitHostPort(addr)
		return net.JoinHostPort("0.0.0.0", port)
	}
	cfg.Raft.AdvertiseAddr, cfg.Raft.Addr = cfg.Raft.Addr, wildcard(cfg.Raft.Addr)
	cfg.HTTP.AdvertiseAddr, cfg.HTTP.Addr = cfg.HTTP.Addr, wildcard(cfg.HTTP.Addr)
}

// TestAdvertiseAddresses: members bound to 0.0.0.0 form a cluster through
// their advertise addresses. The configuration lists those, and a
// follower forwards to the leader at its advertised HTTP address.
func TestAdvertiseAddresses(t *testing.T) {
	c := startConsulCluster(t, 3, bindAllAdvertiseLoopback)
	fol := c.follower()
	// From a follower: forwarded to the leader over HTTP.
	conf, err := c.operator(fol).RaftGetConfiguration(nil)
	if err != nil {
		t.Fatalf("configuration through follower %d: %v", fol, err)
	}
	if len(conf.Servers) != 3 {
		t.Fatalf("%d servers: %+v", len(conf.Servers), conf.Servers)
	}
	for _, s := range conf.Servers {
		id, _ := strconv.Atoi(s.ID)
		tn := c.node(id)
		if s.Address != tn.Config.Raft.AdvertiseAddr || strings.HasPrefix(s.Address, "0.0.0.0") {
			t.Fatalf("server %s has address %q, want its advertised %q (it binds %q)", s.ID, s.Address, tn.Config.Raft.AdvertiseAddr, tn.Config.Raft.Addr)
		}
	}
	if conf.Index == 0 {
		t.Fatal("configuration without an index")
	}
	// Every member announces its advertised HTTP address, which the
	// others forward requests to.
	testnode.Eventually(t, 20*time.Second, "every member's advertised HTTP address is known", func() bool {
		for _, m := range c.node(fol).Node.Store().Raft().Members() {
			if m.HTTPAddr != c.node(int(m.ID)).Config.HTTP.AdvertiseAddr {
				return false
			}
		}
		return true
	})
}
