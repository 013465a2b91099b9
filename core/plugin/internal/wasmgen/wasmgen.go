// Package wasmgen writes small WebAssembly modules byte by byte, for tests
// that need a module the Go toolchain would never produce: a plugin for
// another ABI version, one missing an export, one importing what the host
// lacks, or a plugin with no runtime at all to measure the host's own
// overhead.
package wasmgen

import (
	"encoding/binary"
	"encoding/json"
)

// Value types.
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
	F64 byte = 0x7c
)

// Types is shorthand for a value-type list.
func Types(ts ...byte) []byte { return ts }

type funcType struct{ params, results []byte }

type fn struct {
	typ  uint32
	body []byte
}

type export struct {
	name string
	kind byte
	idx  uint32
}

type elem struct {
	offset uint32
	funcs  []uint32
}

type data struct {
	offset uint32
	b      []byte
}

// Module is a module under construction. Imports must be added before
// functions (function indices count imports first).
type Module struct {
	types   []funcType
	imports []struct {
		mod, name string
		typ       uint32
	}
	funcs    []fn
	memPages uint32
	hasMem   bool
	exports  []export
	data     []data
	table    uint32
	hasTable bool
	elems    []elem
	start    *uint32
	names    map[uint32]string
}

func (m *Module) typeIndex(params, results []byte) uint32 {
	for i, t := range m.types {
		if string(t.params) == string(params) && string(t.results) == string(results) {
			return uint32(i)
		}
	}
	m.types = append(m.types, funcType{params, results})
	return uint32(len(m.types) - 1)
}

// Import adds a function import and returns its function index.
func (m *Module) Import(mod, name string, params, results []byte) uint32 {
	m.imports = append(m.imports, struct {
		mod, name string
		typ       uint32
	}{mod, name, m.typeIndex(params, results)})
	return uint32(len(m.imports) - 1)
}

// Func adds a function with body (instructions without the final end),
// exported under export unless it is empty, and returns its index.
func (m *Module) Func(exportName string, params, results []byte, body []byte) uint32 {
	m.funcs = append(m.funcs, fn{m.typeIndex(params, results), body})
	idx := uint32(len(m.imports) + len(m.funcs) - 1)
	if exportName != "" {
		m.exports = append(m.exports, export{exportName, 0x00, idx})
	}
	return idx
}

// Memory defines memory 0 with pages, exported as "memory".
func (m *Module) Memory(pages uint32) {
	m.memPages, m.hasMem = pages, true
	m.exports = append(m.exports, export{"memory", 0x02, 0})
}

// Table defines table 0 of funcref with min entries.
func (m *Module) Table(min uint32) { m.table, m.hasTable = min, true }

// Elem places functions in table 0 from offset.
func (m *Module) Elem(offset uint32, funcs ...uint32) { m.elems = append(m.elems, elem{offset, funcs}) }

// Start makes idx the start function.
func (m *Module) Start(idx uint32) { m.start = &idx }

// Names adds a name section naming functions.
func (m *Module) Names(names map[uint32]string) { m.names = names }

// Data places b at offset in memory.
func (m *Module) Data(offset uint32, b []byte) { m.data = append(m.data, data{offset, b}) }

// Bytes encodes the module.
func (m *Module) Bytes() []byte {
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	if len(m.types) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.types)))
		for _, t := range m.types {
			s = append(s, 0x60)
			s = vec(s, t.params)
			s = vec(s, t.results)
		}
		out = section(out, 1, s)
	}
	if len(m.imports) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.imports)))
		for _, im := range m.imports {
			s = name(s, im.mod)
			s = name(s, im.name)
			s = append(s, 0x00)
			s = u32(s, im.typ)
		}
		out = section(out, 2, s)
	}
	if len(m.funcs) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.funcs)))
		for _, f := range m.funcs {
			s = u32(s, f.typ)
		}
		out = section(out, 3, s)
	}
	if m.hasTable {
		s := []byte{0x01, 0x70, 0x00}
		s = u32(s, m.table)
		out = section(out, 4, s)
	}
	if m.hasMem {
		s := []byte{0x01, 0x00}
		s = u32(s, m.memPages)
		out = section(out, 5, s)
	}
	if len(m.exports) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.exports)))
		for _, e := range m.exports {
			s = name(s, e.name)
			s = append(s, e.kind)
			s = u32(s, e.idx)
		}
		out = section(out, 7, s)
	}
	if m.start != nil {
		out = section(out, 8, u32(nil, *m.start))
	}
	if len(m.elems) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.elems)))
		for _, e := range m.elems {
			s = append(s, 0x00)
			s = append(s, I32Const(int32(e.offset))...)
			s = append(s, 0x0b)
			s = u32(s, uint32(len(e.funcs)))
			for _, f := range e.funcs {
				s = u32(s, f)
			}
		}
		out = section(out, 9, s)
	}
	if len(m.funcs) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.funcs)))
		for _, f := range m.funcs {
			body := append([]byte{0x00}, f.body...) // no locals
			body = append(body, 0x0b)
			s = u32(s, uint32(len(body)))
			s = append(s, body...)
		}
		out = section(out, 10, s)
	}
	if len(m.data) > 0 {
		var s []byte
		s = u32(s, uint32(len(m.data)))
		for _, d := range m.data {
			s = append(s, 0x00)
			s = append(s, I32Const(int32(d.offset))...)
			s = append(s, 0x0b)
			s = u32(s, uint32(len(d.b)))
			s = append(s, d.b...)
		}
		out = section(out, 11, s)
	}
	if len(m.names) > 0 {
		s := name(nil, "name")
		var sub []byte
		sub = u32(sub, uint32(len(m.names)))
		for i := uint32(0); i < uint32(len(m.imports)+len(m.funcs)); i++ {
			if n, ok := m.names[i]; ok {
				sub = u32(sub, i)
				sub = name(sub, n)
			}
		}
		s = append(s, 0x01)
		s = u32(s, uint32(len(sub)))
		s = append(s, sub...)
		out = section(out, 0, s)
	}
	return out
}

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = u32(out, uint32(len(body)))
	return append(out, body...)
}

func vec(out, b []byte) []byte { return append(u32(out, uint32(len(b))), b...) }

func name(out []byte, s string) []byte { return append(u32(out, uint32(len(s))), s...) }

func u32(out []byte, v uint32) []byte { return binary.AppendUvarint(out, uint64(v)) }

func sleb(out []byte, v int64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// Instructions.

// I32Const pushes v.
func I32Const(v int32) []byte { return sleb([]byte{0x41}, int64(v)) }

// I64Const pushes v.
func I64Const(v int64) []byte { return sleb([]byte{0x42}, v) }

// LocalGet pushes parameter i.
func LocalGet(i uint32) []byte { return u32([]byte{0x20}, i) }

// Call calls function idx.
func Call(idx uint32) []byte { return u32([]byte{0x10}, idx) }

// Drop, Unreachable and friends are single opcodes.
var (
	Drop        = []byte{0x1a}
	Unreachable = []byte{0x00}
	// LoopForever is `loop br 0 end`: a loop that never calls the host.
	LoopForever = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}
	I32Add      = []byte{0x6a}
	I32Mul      = []byte{0x6c}
	I64ExtendU  = []byte{0xad}
	I64Or       = []byte{0x84}
)

// I32Load loads from the address on the stack (alignment 0, offset off).
func I32Load(off uint32) []byte { return u32([]byte{0x28, 0x00}, off) }

// I32Store stores (addr, value) (alignment 0, offset off).
func I32Store(off uint32) []byte { return u32([]byte{0x36, 0x00}, off) }

// Cat concatenates instruction sequences.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Packed is the i64 ptr<<32|len as a constant.
func Packed(ptr, n uint32) []byte { return I64Const(int64(uint64(ptr)<<32 | uint64(n))) }

// Layout of the plugins Plugin writes.
const (
	DescAt   = 1024  // the description JSON
	RespAt   = 4096  // responses
	InputAt  = 65536 // the one input buffer alloc hands out
	MemPages = 2     // 128 KiB: the input buffer is the second page
)

// Plugin returns a minimal validator plugin with no runtime: describe
// answers desc (marshalled to JSON), alloc always returns the second
// memory page, compile answers handle 1, and validate answers "valid" for
// every payload without reading them (up to 12,000 per batch). It measures
// the host's own cost per call. loopIn, when set, names an export
// (compile or validate) that loops forever instead.
func Plugin(desc any, loopIn string) *Module {
	d, _ := json.Marshal(desc)
	m := &Module{}
	m.Memory(MemPages)
	m.Data(DescAt, d)
	// A compile response: status ok, handle 1.
	m.Data(RespAt-16, []byte{0, 1, 0, 0, 0})
	m.Func("trellis_v1_describe", nil, Types(I64), Packed(DescAt, uint32(len(d))))
	m.Func("trellis_v1_alloc", Types(I32), Types(I32), I32Const(InputAt))
	m.Func("trellis_v1_free", Types(I32), nil, nil)
	compile := Packed(RespAt-16, 5)
	if loopIn == "compile" {
		compile = Cat(LoopForever, compile)
	}
	m.Func("trellis_v1_validator_compile", Types(I32, I32), Types(I64), compile)
	// validate(handle, ptr, len): count = load(ptr); store(RespAt+1, count);
	// return RespAt<<32 | (5 + 5*count). Memory past RespAt+5 is zero, so
	// every verdict reads as valid with an empty message.
	validate := Cat(
		I32Const(RespAt), LocalGet(1), I32Load(0), I32Store(1),
		I64Const(int64(uint64(RespAt)<<32|5)),
		LocalGet(1), I32Load(0), I32Const(5), I32Mul, I64ExtendU,
		[]byte{0x7c}, // i64.add
	)
	if loopIn == "validate" {
		validate = Cat(LoopForever, validate)
	}
	m.Func("trellis_v1_validator_validate", Types(I32, I32, I32), Types(I64), validate)
	m.Func("trellis_v1_validator_release", Types(I32), Types(I64), Packed(RespAt-16, 1))
	return m
}

// Desc is a description for Plugin.
func Desc(name, kind string, abiVersion int) map[string]any {
	return map[string]any{"name": name, "kind": kind, "version": "0.0.1", "abi_version": abiVersion}
}
