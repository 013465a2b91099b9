package main

// The modules compiled into the binary. Each registers itself at init;
// modules.<name>.enabled decides which of them run.
import (
	_ "github.com/trellis-cp/trellis/modules/admin"
	_ "github.com/trellis-cp/trellis/modules/connector"
	_ "github.com/trellis-cp/trellis/modules/kv"
	_ "github.com/trellis-cp/trellis/modules/operator"
	_ "github.com/trellis-cp/trellis/modules/schema"
	_ "github.com/trellis-cp/trellis/modules/tenant"
)
