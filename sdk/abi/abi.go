// Package abi is the Trellis plugin ABI, version 1: the names, numbers and
// byte layouts that a plugin and the host agree on. docs/plugin-abi.md is
// its prose form; this package is the one Go implementation both sides use,
// so the host (core/plugin) and the guest SDK cannot drift apart.
//
// It is plain Go with no imports beyond the standard library's encoding
// helpers, so it builds for the host and for GOOS=wasip1 guests alike.
//
// Conventions: integers are little-endian; a "packed" i64 holds a guest
// pointer in its high 32 bits and a length in its low 32 bits; every entry
// point answers with a response (a status byte then a payload), so a failed
// call is data the host reads, never a trap.
package abi

// Version is the ABI version this package describes. It is part of every
// export name (trellis_v1_*) and of the host module name (trellis_v1), so a
// plugin built for another version fails at load with a clear error instead
// of misreading bytes at run time.
const Version = 1

// HostModule is the import module that holds the host functions.
const HostModule = "trellis_v1"

// Export names a plugin may define. Describe, Alloc and Free are required of
// every plugin; the others by kind.
const (
	ExportDescribe = "trellis_v1_describe" // () -> i64 packed JSON description
	ExportAlloc    = "trellis_v1_alloc"    // (size i32) -> ptr i32
	ExportFree     = "trellis_v1_free"     // (ptr i32)

	ExportConnectorOpen  = "trellis_v1_connector_open"  // (cfg_ptr, cfg_len i32) -> i64 response
	ExportConnectorWrite = "trellis_v1_connector_write" // (handle, batch_ptr, batch_len i32) -> i64 response
	ExportConnectorClose = "trellis_v1_connector_close" // (handle i32) -> i64 response

	ExportValidatorCompile  = "trellis_v1_validator_compile"  // (schema_ptr, schema_len i32) -> i64 response
	ExportValidatorValidate = "trellis_v1_validator_validate" // (handle, batch_ptr, batch_len i32) -> i64 response
	ExportValidatorRelease  = "trellis_v1_validator_release"  // (handle i32) -> i64 response

	// ExportInitialize is the Go (and WASI reactor) runtime initialiser that
	// the host calls once per instance before anything else.
	ExportInitialize = "_initialize"
	// ExportMemory is the linear memory the host reads and writes.
	ExportMemory = "memory"
)

// ExportPrefix is the namespace of this version's exports; any other
// trellis_vN_ prefix means a plugin built for another ABI version.
const ExportPrefix = "trellis_v1_"

// Kind is what a plugin does.
type Kind string

// The plugin kinds of ABI v1.
const (
	KindConnector Kind = "connector"
	KindValidator Kind = "validator"
)

// RequiredExports lists the exports a plugin of kind k must define besides
// the common ones (describe, alloc, free, memory).
func RequiredExports(k Kind) []string {
	switch k {
	case KindConnector:
		return []string{ExportConnectorOpen, ExportConnectorWrite, ExportConnectorClose}
	case KindValidator:
		return []string{ExportValidatorCompile, ExportValidatorValidate, ExportValidatorRelease}
	}
	return nil
}

// CommonExports are required of every plugin.
var CommonExports = []string{ExportDescribe, ExportAlloc, ExportFree}

// Pack puts a guest pointer and a length into one i64.
func Pack(ptr, length uint32) uint64 { return uint64(ptr)<<32 | uint64(length) }

// Unpack splits a packed i64 into pointer and length.
func Unpack(v uint64) (ptr, length uint32) { return uint32(v >> 32), uint32(v) }
