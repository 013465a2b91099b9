// Package testutil holds helpers shared by the module's tests: free
// loopback ports and polling until a condition holds.
package testutil

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/sdk/freeport"
)

// FreeAddr returns a loopback address for a server under test to listen
// on. The port comes from consul's freeport: a block reserved by this test
// process below the kernel's ephemeral range, so neither another test
// binary nor an outgoing connection can take it before the server binds it
// (a port found by listening on :0 and closing could be, and was, in CI).
// The port goes back to the pool when the test ends.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freeport.GetOne(t))
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
