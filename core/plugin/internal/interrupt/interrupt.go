// Package interrupt makes a WebAssembly module stoppable, and keeps it
// from stalling the Go runtime, at the cost of a few instructions per loop
// iteration.
//
// Code that wazero compiles runs without Go's preemption: a guest that
// loops never reaches a point where the Go scheduler or a garbage
// collection's stop-the-world can stop it, so one long call can stall
// every goroutine of the node. wazero's WithCloseOnContextDone solves
// both by compiling a call into Go at every loop header and function entry
// (and watching each call's context from a goroutine). On Go guests that
// is ruinous: Go's wasm backend makes every function a loop, so every Go
// call and every iteration pays a round trip to Go (measured: 28 ns per
// loop iteration instead of 0.3 ns; a near-empty Go plugin 4x slower per
// record; see BenchmarkTermination in core/plugin).
//
// Instrument rewrites the module instead. It adds an import, TickModule
// TickName (a host function of type () -> ()), a mutable i32 global
// counting down, and at the top of every loop body:
//
//	global.get $budget
//	i32.eqz
//	if
//	  call $tick          ;; every Budget iterations: a real call into Go
//	  i32.const Budget
//	  global.set $budget
//	end
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//
// The host's tick is where the Go runtime may preempt the goroutine, and
// where the host checks the call's deadline: past it, tick panics and
// wazero unwinds the guest. Every endless loop reaches a tick; code
// without loops cannot run long (it ends or overflows its stack), and a
// guest blocked in a host function is bounded by that function's
// deadline.
//
// Adding an import shifts the index of every function the module defines
// by one, so Instrument renumbers calls, ref.func, exports, the start
// function, element segments and the name section. It decodes every
// instruction (core, sign extension, saturating conversions, bulk memory,
// reference types, tail calls, SIMD, threads, exception handling), so an
// opcode is never confused with an immediate byte. It refuses a module
// that already imports from TickModule or refers to a global that does
// not exist (which, once the budget global is added, could reach it).
package interrupt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The injected import.
const (
	TickModule = "trellis_internal"
	TickName   = "tick"
)

// Version numbers the rewrite: a host that caches instrumented modules
// keys them by it (and Budget), so a changed rewrite is never mixed with
// an old one.
const Version = 1

// ErrReserved is returned for a module that imports from TickModule
// itself.
var ErrReserved = errors.New("imports from " + TickModule + ", a module the host reserves")

// Budget is the number of loop iterations between ticks: small enough
// that a tick comes every few tens of microseconds of guest work, large
// enough that its cost (a call into Go) vanishes per iteration.
const Budget = 4096

// Section ids.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
	secTag      = 13
)

// order is each known section's position in a module; a section Instrument
// creates goes before the first section that must follow it.
var order = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCnt: 11, secCode: 12, secData: 13,
}

type section struct {
	id   byte
	body []byte
}

// rewriter holds what the rewrite needs to know about the module.
type rewriter struct {
	importedFuncs uint32 // the tick's index; defined functions move up by one
	globals       uint32 // globals before ours: the budget's index
	tickType      uint32
	newType       bool // the () -> () type is added at tickType
}

// shift renumbers a function index of the original module.
func (rw *rewriter) shift(idx uint32) uint32 {
	if idx >= rw.importedFuncs {
		return idx + 1
	}
	return idx
}

// Instrument returns a copy of wasm with the tick import, the budget
// global and the loop checks.
func Instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module")
	}
	var secs []section
	r := reader{b: wasm[8:]}
	for r.len() > 0 {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		secs = append(secs, section{id, body})
	}

	rw := &rewriter{}
	types := uint32(0)
	haveType := false
	definedGlobals := uint32(0)
	for _, s := range secs {
		switch s.id {
		case secType:
			n, idx, found, err := findVoidType(s.body)
			if err != nil {
				return nil, fmt.Errorf("type section: %w", err)
			}
			types = n
			if found {
				rw.tickType, haveType = idx, true
			}
		case secImport:
			funcs, globals, err := scanImports(s.body)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			rw.importedFuncs, rw.globals = funcs, globals
		case secGlobal:
			sr := reader{b: s.body}
			definedGlobals = sr.u32()
			if sr.err != nil {
				return nil, fmt.Errorf("global section: %w", sr.err)
			}
		}
	}
	rw.globals += definedGlobals
	if !haveType {
		rw.tickType, rw.newType = types, true
	}

	// Instrumentation adds about 1%; room for 3% avoids regrowing.
	out := make([]byte, 0, len(wasm)+len(wasm)/32+64)
	out = append(out, wasm[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	done := map[byte]bool{}
	// created emits the sections Instrument adds, when the module lacks
	// them, in their place in the order.
	created := func(before byte) {
		for _, id := range []byte{secType, secImport, secGlobal} {
			if !done[id] && order[id] < order[before] {
				switch id {
				case secType:
					if rw.newType {
						emit(secType, []byte{0x01, 0x60, 0x00, 0x00})
					}
				case secImport:
					emit(secImport, rw.appendTickImport([]byte{0x01}))
				case secGlobal:
					emit(secGlobal, appendBudgetGlobal([]byte{0x01}))
				}
				done[id] = true
			}
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			created(s.id)
		}
		var body []byte
		var err error
		switch s.id {
		case secType:
			body = s.body
			if rw.newType {
				body = appendToVec(s.body, []byte{0x60, 0x00, 0x00})
			}
		case secImport:
			body = appendToVec(s.body, rw.appendTickImport(nil))
		case secGlobal:
			body, err = rw.globalSection(s.body)
		case secExport:
			body, err = rw.exportSection(s.body)
		case secStart:
			sr := reader{b: s.body}
			idx := sr.u32()
			body, err = binary.AppendUvarint(nil, uint64(rw.shift(idx))), sr.err
		case secElement:
			body, err = rw.elementSection(s.body)
		case secCode:
			body, err = rw.codeSection(s.body)
		case secCustom:
			body = rw.customSection(s.body)
		default:
			body = s.body
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, err)
		}
		if s.id != secCustom {
			done[s.id] = true
		}
		emit(s.id, body)
	}
	created(255)
	return out, nil
}

// appendSLEB appends v as a signed LEB128 (what i32.const takes; Go's
// binary.AppendVarint is zig-zag, a different encoding).
func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendToVec adds one encoded entry to a vector's body.
func appendToVec(body, entry []byte) []byte {
	r := reader{b: body}
	n := r.u32()
	out := binary.AppendUvarint(nil, uint64(n+1))
	out = append(out, r.rest()...)
	return append(out, entry...)
}

func (rw *rewriter) appendTickImport(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(TickModule)))
	b = append(b, TickModule...)
	b = binary.AppendUvarint(b, uint64(len(TickName)))
	b = append(b, TickName...)
	b = append(b, 0x00)
	return binary.AppendUvarint(b, uint64(rw.tickType))
}

func appendBudgetGlobal(b []byte) []byte {
	b = append(b, 0x7f, 0x01, 0x41) // i32, mutable, i32.const
	b = appendSLEB(b, Budget)
	return append(b, 0x0b)
}

// findVoidType returns the type count and the index of a () -> () type.
func findVoidType(body []byte) (n, idx uint32, found bool, err error) {
	r := reader{b: body}
	n = r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 {
			return 0, 0, false, fmt.Errorf("type form %#x", form)
		}
		params := r.u32()
		for j := uint32(0); j < params; j++ {
			r.valtype()
		}
		results := r.u32()
		for j := uint32(0); j < results; j++ {
			r.valtype()
		}
		if params == 0 && results == 0 && !found {
			idx, found = i, true
		}
	}
	return n, idx, found, r.err
}

func scanImports(body []byte) (funcs, globals uint32, err error) {
	r := reader{b: body}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod := r.bytes(int(r.u32()))
		r.bytes(int(r.u32())) // name
		if string(mod) == TickModule {
			return 0, 0, ErrReserved
		}
		switch kind := r.byte(); kind {
		case 0x00: // func: type index
			r.u32()
			funcs++
		case 0x01: // table: reftype, limits
			r.valtype()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
		case 0x03: // global: valtype, mutability
			r.valtype()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return 0, 0, fmt.Errorf("import kind %#x", kind)
		}
	}
	return funcs, globals, r.err
}

func (rw *rewriter) globalSection(body []byte) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	out := binary.AppendUvarint(nil, uint64(n+1))
	for i := uint32(0); i < n; i++ {
		start := len(body) - r.len()
		r.valtype()
		r.byte()
		out = append(out, body[start:len(body)-r.len()]...)
		var err error
		if out, err = rw.expr(out, &r); err != nil {
			return nil, err
		}
	}
	if r.err != nil || r.len() != 0 {
		return nil, errors.New("malformed")
	}
	return appendBudgetGlobal(out), nil
}

func (rw *rewriter) exportSection(body []byte) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	out := binary.AppendUvarint(nil, uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.bytes(int(r.u32()))
		kind := r.byte()
		idx := r.u32()
		if kind == 0x00 {
			idx = rw.shift(idx)
		}
		out = binary.AppendUvarint(out, uint64(len(name)))
		out = append(out, name...)
		out = append(out, kind)
		out = binary.AppendUvarint(out, uint64(idx))
	}
	return out, r.err
}

// elementSection renumbers function indices in the eight segment forms.
func (rw *rewriter) elementSection(body []byte) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	out := binary.AppendUvarint(nil, uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		out = binary.AppendUvarint(out, uint64(flags))
		var err error
		if flags&0x02 != 0 && flags&0x01 == 0 { // explicit table index
			out = binary.AppendUvarint(out, uint64(r.u32()))
		}
		if flags&0x01 == 0 { // active: offset expression
			if out, err = rw.expr(out, &r); err != nil {
				return nil, err
			}
		}
		if flags&0x03 != 0 { // elemkind or reftype
			start := len(body) - r.len()
			if flags&0x04 != 0 {
				r.valtype()
			} else {
				r.byte()
			}
			out = append(out, body[start:len(body)-r.len()]...)
		}
		count := r.u32()
		out = binary.AppendUvarint(out, uint64(count))
		for j := uint32(0); j < count && r.err == nil; j++ {
			if flags&0x04 != 0 { // expressions
				if out, err = rw.expr(out, &r); err != nil {
					return nil, err
				}
			} else { // function indices
				out = binary.AppendUvarint(out, uint64(rw.shift(r.u32())))
			}
		}
	}
	if r.err != nil || r.len() != 0 {
		return nil, errors.New("malformed")
	}
	return out, nil
}

// expr copies a constant expression up to its end, renumbering ref.func.
func (rw *rewriter) expr(out []byte, r *reader) ([]byte, error) {
	for r.err == nil {
		op := r.byte()
		out = append(out, op)
		switch op {
		case 0x0b:
			return out, nil
		case 0xd2:
			out = binary.AppendUvarint(out, uint64(rw.shift(r.u32())))
		default:
			start := r.p
			if err := r.skipImmediates(op, ^uint32(0)); err != nil {
				return nil, err
			}
			out = append(out, r.b[start:r.p]...)
		}
	}
	return nil, r.err
}

// codeSection rewrites every function body.
func (rw *rewriter) codeSection(body []byte) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	out := make([]byte, 0, len(body)+len(body)/32+16)
	out = binary.AppendUvarint(out, uint64(n))
	check := rw.check()
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function %d: %w", i, r.err)
		}
		var err error
		if fn, err = rw.function(fn[:0], code, check); err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = binary.AppendUvarint(out, uint64(len(fn)))
		out = append(out, fn...)
	}
	if r.len() != 0 {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// check is the code inserted at the top of every loop body.
func (rw *rewriter) check() []byte {
	getB := binary.AppendUvarint([]byte{0x23}, uint64(rw.globals)) // global.get $budget
	setB := binary.AppendUvarint([]byte{0x24}, uint64(rw.globals)) // global.set $budget
	var b []byte
	b = append(b, getB...)
	b = append(b, 0x45, 0x04, 0x40)                                     // i32.eqz; if
	b = binary.AppendUvarint(append(b, 0x10), uint64(rw.importedFuncs)) // call $tick
	b = appendSLEB(append(b, 0x41), Budget)                             // i32.const Budget
	b = append(b, setB...)                                              //
	b = append(b, 0x0b)                                                 // end
	b = append(b, getB...)                                              //
	b = append(b, 0x41, 0x01, 0x6b)                                     // i32.const 1; i32.sub
	return append(b, setB...)
}

func (rw *rewriter) function(out, code, check []byte) ([]byte, error) {
	r := reader{b: code}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()
		r.valtype()
	}
	if r.err != nil {
		return nil, fmt.Errorf("locals: %w", r.err)
	}
	// Copy unchanged runs of instructions whole; only loops (a check after
	// the block type) and function indices (renumbered) break a run.
	from := 0
	for r.len() > 0 {
		start := len(code) - r.len()
		op := r.byte()
		switch op {
		case 0x10, 0x12, 0xd2: // call, return_call, ref.func
			idx := r.u32()
			out = append(out, code[from:start+1]...)
			out = binary.AppendUvarint(out, uint64(rw.shift(idx)))
			from = len(code) - r.len()
			continue
		}
		if err := r.skipImmediates(op, rw.globals); err != nil {
			return nil, fmt.Errorf("instruction %#x at byte %d: %w", op, start, err)
		}
		if r.err != nil {
			return nil, fmt.Errorf("instruction %#x at byte %d: %w", op, start, r.err)
		}
		if op == 0x03 { // loop: the check comes first in its body
			end := len(code) - r.len()
			out = append(out, code[from:end]...)
			out = append(out, check...)
			from = end
		}
	}
	return append(out, code[from:]...), nil
}

// customSection renumbers the name section's function and local names;
// other custom sections pass unchanged. A name section that does not parse
// is kept as it was (it only serves stack traces).
func (rw *rewriter) customSection(body []byte) []byte {
	r := reader{b: body}
	name := r.bytes(int(r.u32()))
	if r.err != nil || string(name) != "name" {
		return body
	}
	out := append([]byte(nil), body[:len(body)-r.len()]...)
	for r.len() > 0 {
		id := r.byte()
		sub := r.bytes(int(r.u32()))
		if r.err != nil {
			return body
		}
		if id == 1 || id == 2 {
			var ok bool
			if sub, ok = rw.renumberNameMap(sub, id == 2); !ok {
				return body
			}
		}
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(sub)))
		out = append(out, sub...)
	}
	return out
}

// renumberNameMap rewrites a name map (function names) or an indirect
// name map (local names), whose outer indices are function indices.
func (rw *rewriter) renumberNameMap(sub []byte, indirect bool) ([]byte, bool) {
	r := reader{b: sub}
	n := r.u32()
	out := binary.AppendUvarint(nil, uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = binary.AppendUvarint(out, uint64(rw.shift(r.u32())))
		start := len(sub) - r.len()
		if indirect {
			m := r.u32()
			for j := uint32(0); j < m && r.err == nil; j++ {
				r.u32()
				r.bytes(int(r.u32()))
			}
		} else {
			r.bytes(int(r.u32()))
		}
		out = append(out, sub[start:len(sub)-r.len()]...)
	}
	return out, r.err == nil && r.len() == 0
}

// reader decodes LEB128 and friends; the first error sticks. It keeps an
// index rather than reslicing, so reading a byte writes no pointer.
type reader struct {
	b   []byte
	p   int
	err error
}

var errShort = errors.New("unexpected end")

func (r *reader) len() int { return len(r.b) - r.p }

func (r *reader) rest() []byte { b := r.b[r.p:]; r.p = len(r.b); return b }

func (r *reader) byte() byte {
	if r.p >= len(r.b) {
		r.fail(errShort)
		return 0
	}
	c := r.b[r.p]
	r.p++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.p {
		r.fail(errShort)
		return nil
	}
	b := r.b[r.p : r.p+n]
	r.p += n
	return b
}

func (r *reader) u32() uint32 {
	v := r.leb(5)
	if v > 0xffffffff {
		r.fail(errors.New("u32 out of range"))
	}
	return uint32(v)
}

func (r *reader) u64() uint64 { return r.leb(10) }

// leb reads an unsigned (or, skipped as bytes, signed) LEB128 of at most
// max bytes.
func (r *reader) leb(max int) uint64 {
	var v uint64
	b, p := r.b, r.p
	for i := 0; i < max; i++ {
		if p >= len(b) {
			r.fail(errShort)
			return 0
		}
		c := b[p]
		p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			r.p = p
			return v
		}
	}
	r.fail(errors.New("LEB128 too long"))
	return 0
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.p = len(r.b)
}

func (r *reader) limits() {
	flags := r.byte()
	if flags&0x04 != 0 { // memory64
		r.u64()
		if flags&0x01 != 0 {
			r.u64()
		}
		return
	}
	r.u32()
	if flags&0x01 != 0 {
		r.u32()
	}
}

func (r *reader) valtype() {
	switch t := r.byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
	case 0x64, 0x63: // (ref null? heaptype)
		r.leb(5)
	default:
		r.fail(fmt.Errorf("value type %#x", t))
	}
}

// blocktype is empty (0x40), a value type, or a type index (s33).
func (r *reader) blocktype() {
	if r.p >= len(r.b) {
		r.fail(errShort)
		return
	}
	switch r.b[r.p] {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		r.p++
	case 0x64, 0x63:
		r.p++
		r.leb(5)
	default:
		r.leb(5)
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.u64()
}

// Immediate shapes, by opcode.
const (
	immInvalid = iota
	immNone
	immBlock   // block type
	immU32     // one index or label
	immU32x2   // two indices
	immBrTable // vec(label) label
	immSelectT // vec(valtype)
	immTryTable
	immGlobal // a global index, checked
	immMemarg
	immI32
	immI64
	immF32
	immF64
	immMisc   // 0xfc prefix
	immSimd   // 0xfd prefix
	immAtomic // 0xfe prefix
)

// immediates classifies every one-byte opcode once, so the decoder's hot
// path is a table lookup.
var immediates = func() (t [256]uint8) {
	set := func(k uint8, ops ...int) {
		for _, op := range ops {
			t[op] = k
		}
	}
	set(immNone, 0x00, 0x01, 0x05, 0x0a, 0x0b, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd3, 0xd4)
	for op := 0x45; op <= 0xc4; op++ {
		t[op] = immNone
	}
	set(immBlock, 0x02, 0x03, 0x04, 0x06)
	// br br_if catch throw rethrow call return_call delegate
	// local.get/set/tee table.get/set memory.size/grow ref.null ref.func
	// br_on_null br_on_non_null
	set(immU32, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x18, 0x20, 0x21, 0x22, 0x25, 0x26,
		0x3f, 0x40, 0xd0, 0xd2, 0xd5, 0xd6)
	set(immU32x2, 0x11, 0x13) // call_indirect, return_call_indirect
	set(immBrTable, 0x0e)
	set(immSelectT, 0x1c)
	set(immTryTable, 0x1f)
	set(immGlobal, 0x23, 0x24)
	for op := 0x28; op <= 0x3e; op++ {
		t[op] = immMemarg
	}
	set(immI32, 0x41)
	set(immI64, 0x42)
	set(immF32, 0x43)
	set(immF64, 0x44)
	set(immMisc, 0xfc)
	set(immSimd, 0xfd)
	set(immAtomic, 0xfe)
	return t
}()

// skipImmediates consumes op's immediates. global is the number of
// globals the original module has: an index at or past it is refused.
func (r *reader) skipImmediates(op byte, global uint32) error {
	switch immediates[op] {
	case immNone:
	case immBlock:
		r.blocktype()
	case immU32:
		r.leb(5)
	case immU32x2:
		r.leb(5)
		r.leb(5)
	case immI32:
		r.leb(5)
	case immMemarg:
		r.memarg()
	case immGlobal:
		if idx := r.u32(); r.err == nil && idx >= global {
			return fmt.Errorf("global index %d does not exist", idx)
		}
	case immI64:
		r.leb(10)
	case immF32:
		r.bytes(4)
	case immF64:
		r.bytes(8)
	case immBrTable:
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.leb(5)
		}
	case immSelectT:
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valtype()
		}
	case immTryTable:
		r.blocktype()
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			switch kind := r.byte(); kind {
			case 0x00, 0x01: // catch, catch_ref: tag, label
				r.u32()
				r.u32()
			case 0x02, 0x03: // catch_all, catch_all_ref: label
				r.u32()
			default:
				return fmt.Errorf("catch kind %#x", kind)
			}
		}
	case immMisc:
		return r.misc()
	case immSimd:
		return r.simd()
	case immAtomic:
		return r.atomic()
	default:
		return fmt.Errorf("unknown opcode")
	}
	return nil
}

func (r *reader) misc() error {
	switch sub := r.u32(); {
	case sub <= 0x07: // trunc_sat
	case sub == 0x08: // memory.init data mem
		r.u32()
		r.u32()
	case sub == 0x09: // data.drop
		r.u32()
	case sub == 0x0a: // memory.copy mem mem
		r.u32()
		r.u32()
	case sub == 0x0b: // memory.fill mem
		r.u32()
	case sub == 0x0c || sub == 0x0e: // table.init elem table, table.copy t t
		r.u32()
		r.u32()
	case sub == 0x0d || sub == 0x0f || sub == 0x10 || sub == 0x11: // elem.drop table.grow size fill
		r.u32()
	default:
		return fmt.Errorf("unknown 0xfc opcode %d", sub)
	}
	return nil
}

func (r *reader) simd() error {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads, store, load_zero
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load/store lane
		r.memarg()
		r.byte()
	case sub <= 0x113:
		// arithmetic, comparisons, conversions, relaxed SIMD: no immediates
	default:
		return fmt.Errorf("unknown 0xfd opcode %d", sub)
	}
	return nil
}

func (r *reader) atomic() error {
	switch sub := r.u32(); {
	case sub == 0x03: // atomic.fence
		r.byte()
	case sub <= 0x4e:
		r.memarg()
	default:
		return fmt.Errorf("unknown 0xfe opcode %d", sub)
	}
	return nil
}
