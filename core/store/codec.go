package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The replicated command codec. Commands travel in raft entries and are
// decoded on every node, so the format is compact, versioned and strict: a
// decoder that meets anything unexpected fails instead of guessing.

const codecVersion = 1

var errCorrupt = errors.New("store: corrupt command")

type encoder struct{ b []byte }

func (e *encoder) u64(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) i64(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) byte1(v byte)   { e.b = append(e.b, v) }
func (e *encoder) bytes(v []byte) { e.u64(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) str(v string)   { e.u64(uint64(len(v))); e.b = append(e.b, v...) }

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) i64() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.u64()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

// count reads a collection length and refuses lengths the remaining input
// cannot possibly hold, so a corrupt length cannot make us allocate wildly.
func (d *decoder) count() int {
	n := d.u64()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func encodeOp(e *encoder, op *Op) {
	e.byte1(byte(op.Type))
	e.str(op.Namespace)
	e.bytes(op.Key)
	e.bytes(op.Value)
	e.i64(op.ExpireAt)
	e.i64(op.ModRevision)
}

func decodeOp(d *decoder) Op {
	op := Op{Type: OpType(d.byte1())}
	op.Namespace = d.str()
	op.Key = d.bytes()
	op.Value = d.bytes()
	op.ExpireAt = d.i64()
	op.ModRevision = d.i64()
	if op.Type == 0 || op.Type > opMax {
		d.fail()
	}
	return op
}

func encodeCompare(e *encoder, c *Compare) {
	e.byte1(byte(c.Target))
	e.byte1(byte(c.Result))
	e.str(c.Namespace)
	e.bytes(c.Key)
	e.bytes(c.Value)
	e.i64(c.Number)
}

func decodeCompare(d *decoder) Compare {
	c := Compare{Target: CompareTarget(d.byte1()), Result: CompareResult(d.byte1())}
	c.Namespace = d.str()
	c.Key = d.bytes()
	c.Value = d.bytes()
	c.Number = d.i64()
	if c.Target == 0 || c.Target > targetMax || c.Result == 0 || c.Result > resultMax {
		d.fail()
	}
	return c
}

// MarshalCommand encodes a command for a raft entry.
func MarshalCommand(c *Command) []byte {
	e := encoder{b: make([]byte, 0, 64+commandPayload(c))}
	e.byte1(codecVersion)
	e.byte1(byte(c.Kind))
	e.i64(c.Revision)
	e.u64(uint64(len(c.Compares)))
	for i := range c.Compares {
		encodeCompare(&e, &c.Compares[i])
	}
	e.u64(uint64(len(c.Success)))
	for i := range c.Success {
		encodeOp(&e, &c.Success[i])
	}
	e.u64(uint64(len(c.Failure)))
	for i := range c.Failure {
		encodeOp(&e, &c.Failure[i])
	}
	if c.Kind == KindAlarm {
		e.byte1(byte(c.AlarmAction))
		e.u64(c.Alarm.MemberID)
		e.str(string(c.Alarm.Type))
	}
	return e.b
}

func commandPayload(c *Command) int {
	n := 0
	for _, ops := range [][]Op{c.Success, c.Failure} {
		for i := range ops {
			n += len(ops[i].Key) + len(ops[i].Value) + len(ops[i].Namespace) + 24
		}
	}
	for i := range c.Compares {
		n += len(c.Compares[i].Key) + len(c.Compares[i].Value) + 24
	}
	return n
}

// UnmarshalCommand decodes what MarshalCommand wrote.
func UnmarshalCommand(b []byte) (*Command, error) {
	d := decoder{b: b}
	if v := d.byte1(); d.err == nil && v != codecVersion {
		return nil, fmt.Errorf("store: command codec version %d, want %d", v, codecVersion)
	}
	c := &Command{Kind: CommandKind(d.byte1())}
	c.Revision = d.i64()
	if n := d.count(); n > 0 {
		c.Compares = make([]Compare, n)
		for i := range c.Compares {
			c.Compares[i] = decodeCompare(&d)
		}
	}
	if n := d.count(); n > 0 {
		c.Success = make([]Op, n)
		for i := range c.Success {
			c.Success[i] = decodeOp(&d)
		}
	}
	if n := d.count(); n > 0 {
		c.Failure = make([]Op, n)
		for i := range c.Failure {
			c.Failure[i] = decodeOp(&d)
		}
	}
	if c.Kind == KindAlarm {
		decodeAlarm(&d, c)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err == nil && (c.Kind == 0 || c.Kind > kindMax) {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// decodeAlarm reads the tail of a KindAlarm command: the action, the
// member and the type, which must be one Trellis knows. An alarm command
// carries nothing else.
func decodeAlarm(d *decoder, c *Command) {
	c.AlarmAction = AlarmAction(d.byte1())
	c.Alarm.MemberID = d.u64()
	c.Alarm.Type = AlarmType(d.str())
	if c.AlarmAction == 0 || c.AlarmAction > alarmActionMax || !knownAlarmType(c.Alarm.Type) ||
		len(c.Compares) > 0 || len(c.Success) > 0 || len(c.Failure) > 0 {
		d.fail()
	}
}
