package robustness

import (
	"net"
	"testing"
	"time"
)

// TestRestartMovesOffATakenPort: the machine is shared, so a port the
// harness picked may be taken by another process before a node restarts;
// the node then comes back on new ports instead of failing the scenario.
func TestRestartMovesOffATakenPort(t *testing.T) {
	c := NewCluster(t, bin, Options{Nodes: 1, NoProxy: true})
	n := c.Nodes()[0]
	c.Kill(n)
	old := n.HTTPAddr()
	ln, err := net.Listen("tcp", old)
	if err != nil {
		t.Fatalf("take %s: %v", old, err)
	}
	defer ln.Close()
	c.Start(n)
	if n.HTTPAddr() == old {
		t.Fatal("restarted on the taken port?")
	}
	if err := c.HealthCheck(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}
