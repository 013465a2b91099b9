// Package testutil holds helpers shared by core's tests: free loopback
// ports and polling until a condition holds.
package testutil

import (
	"net"
	"testing"
	"time"
)

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Eventually polls cond every 20ms until it returns true or timeout passes,
// then fails the test with msg. It waits for a state, it does not measure.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
