// Package plugin is the WebAssembly plugin host: it loads plugins built
// against ABI v1 (package sdk/abi, docs/plugin-abi.md), runs them on wazero
// in bounded pools of warm instances, and gives them only the host
// functions their manifest grants.
//
// The pieces, in the order a plugin meets them:
//
//   - Host (runtime.go) owns what all plugins share: the compilation cache
//     under the data dir (a module is compiled once per digest, and a
//     restart reads the compiled code back instead of compiling again),
//     the logger and the metrics.
//   - Host.Load (load.go) refuses bad bytes, a wrong ABI version and
//     missing exports with an error that says which, starts the first
//     instance, reads the plugin's description and warms the pool. A
//     failed load never panics and never disturbs loaded plugins.
//   - Plugin (plugin.go) is one loaded version. Its calls run on instances
//     from its pool (pool.go): one call sequence per instance at a time; an
//     instance that traps, times out or passes its memory high-water mark
//     is discarded and replaced.
//   - Registry (registry.go) maps names to the current version and swaps
//     versions while in-flight calls finish on the old one.
//   - Calls by kind: validators (validator.go) and connectors
//     (connector.go), one boundary crossing per batch.
//   - Host functions (hostfn_*.go), deny by default from the Manifest
//     (manifest.go): a refusal is an error code to the plugin and one log
//     line, never a host failure.
package plugin
