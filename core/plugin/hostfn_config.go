package plugin

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// hostConfigGet answers config_get from the manifest's Config only: a key
// the operator did not grant reads as absent (ErrnoNotFound), exactly like
// a key nobody set, so a plugin cannot probe for the node's own settings.
func hostConfigGet(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	key, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = in.errno(abi.ErrnoInvalid, "config key outside memory")
		return
	}
	v, ok := in.p.manifest.Config[string(key)]
	if !ok {
		stack[0] = in.errno(abi.ErrnoNotFound, "config key %q is not granted to this plugin", key)
		return
	}
	stack[0] = in.writeLimited(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), []byte(v))
}
