//go:build !failpoints

package failpoint

// Hit marks a failpoint; without the failpoints build tag it does nothing.
func Hit(string) {}

// Enabled reports whether this binary was built with failpoints.
const Enabled = false
