//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Enabled reports whether this binary was built with failpoints.
const Enabled = true

type action struct {
	kill  bool
	at    int64 // kill on this hit (1-based)
	sleep time.Duration
	hits  int64
}

var (
	once sync.Once
	mu   sync.Mutex
	arms map[string]*action
)

func load() {
	arms = map[string]*action{}
	for _, spec := range strings.Split(os.Getenv("TRELLIS_FAILPOINTS"), ",") {
		name, act, ok := strings.Cut(strings.TrimSpace(spec), "=")
		if !ok {
			continue
		}
		a := &action{}
		switch {
		case act == "kill":
			a.kill, a.at = true, 1
		case strings.HasPrefix(act, "kill@"):
			n, err := strconv.ParseInt(act[len("kill@"):], 10, 64)
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "failpoint %s: bad action %q\n", name, act)
				continue
			}
			a.kill, a.at = true, n
		case strings.HasPrefix(act, "sleep:"):
			d, err := time.ParseDuration(act[len("sleep:"):])
			if err != nil {
				fmt.Fprintf(os.Stderr, "failpoint %s: bad action %q\n", name, act)
				continue
			}
			a.sleep = d
		default:
			fmt.Fprintf(os.Stderr, "failpoint %s: bad action %q\n", name, act)
			continue
		}
		arms[name] = a
	}
}

// Hit runs the action armed for name, if any.
func Hit(name string) {
	once.Do(load)
	a := arms[name]
	if a == nil {
		return
	}
	if a.sleep > 0 {
		time.Sleep(a.sleep)
		return
	}
	mu.Lock()
	a.hits++
	hit := a.hits
	mu.Unlock()
	if a.kill && hit == a.at {
		fmt.Fprintf(os.Stderr, "failpoint %s: killing the process (hit %d)\n", name, hit)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not handled; wait for it
	}
}
