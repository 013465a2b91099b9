package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// Record is one record handed to a connector.
type Record = abi.Record

// Header is a record header.
type Header = abi.Header

// Connector is one open connector: a plugin instance pinned from open to
// close, so the plugin may keep state (a connection, a buffer) between
// writes. Its methods serialise on the connector; use one per delivery
// stream.
//
// If the instance fails (trap, timeout) or passes its memory high-water
// mark, the connector moves to a fresh instance and opens again with the
// same config before its next write: the failed write returns an error and
// the caller retries it.
type Connector struct {
	p      *Plugin
	config []byte

	mu     sync.Mutex
	in     *instance
	handle uint32
	closed bool
}

// OpenConnector opens a connector with its config (a JSON object the
// plugin's description documents). It holds one instance of the pool until
// Close, and keeps the plugin version alive until then.
func (p *Plugin) OpenConnector(ctx context.Context, config []byte) (*Connector, error) {
	if err := p.checkKind(abi.KindConnector); err != nil {
		return nil, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	c := &Connector{p: p, config: append([]byte(nil), config...)}
	if err := c.reopen(ctx); err != nil {
		p.leave()
		return nil, err
	}
	return c, nil
}

// Plugin is the plugin version the connector runs on.
func (c *Connector) Plugin() *Plugin { return c.p }

// reopen takes an instance and opens the connector on it.
func (c *Connector) reopen(ctx context.Context) error {
	in, err := c.p.pool.get(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	h, err := in.open(ctx, c.config)
	observe(c.p.mOpen, start, 0, err)
	if err != nil {
		c.p.pool.put(in)
		return err
	}
	c.in, c.handle = in, h
	return nil
}

func (in *instance) open(ctx context.Context, config []byte) (uint32, error) {
	ptr, err := in.input(ctx, "open", config)
	if err != nil {
		return 0, err
	}
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(config))
	if err := in.call(ctx, "open", in.fn.open, in.stack[:2]); err != nil {
		return 0, err
	}
	status, payload, err := in.response("open", in.stack[0])
	if err != nil {
		return 0, err
	}
	if status == abi.StatusError {
		return 0, in.guestError("open", payload)
	}
	rd := abi.NewReader(payload)
	h := rd.U32()
	if rd.Err != nil {
		return 0, in.protocol("open", "response without a handle")
	}
	return h, nil
}

// Write hands a batch to the connector in one call and returns how many
// records, from the first, were delivered. A plugin's own failure is a
// *GuestError with accepted telling where to resume.
func (c *Connector) Write(ctx context.Context, records []Record) (accepted int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fmt.Errorf("plugin %s: connector: %w", c.p.name, ErrClosed)
	}
	if c.in == nil {
		if err := c.reopen(ctx); err != nil {
			return 0, err
		}
	}
	in := c.in
	start := time.Now()
	accepted, err = in.write(ctx, c.handle, records)
	observe(c.p.mWrite, start, len(records), err)
	if in.dead == "" && in.overHighWater() {
		// Close on the old instance so the plugin flushes, then let the
		// next write open on a fresh one.
		in.closeConnector(ctx, c.handle)
		in.dead = "memory"
	}
	if in.dead != "" {
		c.p.pool.put(in)
		c.in = nil
	}
	return accepted, err
}

func (in *instance) write(ctx context.Context, h uint32, records []Record) (int, error) {
	in.batch.Reset()
	size := 0
	for i := range records {
		size += 4 + abi.RecordSize(&records[i])
	}
	in.batch.Grow(size)
	for i := range records {
		in.batch.AddRecord(&records[i])
	}
	data := in.batch.Bytes()
	ptr, err := in.input(ctx, "write", data)
	if err != nil {
		return 0, err
	}
	in.stack[0], in.stack[1], in.stack[2] = uint64(h), uint64(ptr), uint64(len(data))
	if err := in.call(ctx, "write", in.fn.write, in.stack[:3]); err != nil {
		return 0, err
	}
	status, payload, err := in.response("write", in.stack[0])
	if err != nil {
		return 0, err
	}
	rd := abi.NewReader(payload)
	accepted := int(rd.U32())
	if rd.Err != nil || accepted > len(records) {
		return 0, in.protocol("write", "accepted count missing or over the batch size")
	}
	if status == abi.StatusError {
		return accepted, in.guestError("write", rd.Rest())
	}
	return accepted, nil
}

func (in *instance) closeConnector(ctx context.Context, h uint32) error {
	in.stack[0] = uint64(h)
	if err := in.call(ctx, "close", in.fn.close, in.stack[:1]); err != nil {
		return err
	}
	status, payload, err := in.response("close", in.stack[0])
	if err != nil {
		return err
	}
	if status == abi.StatusError {
		return in.guestError("close", payload)
	}
	return nil
}

// Close closes the connector in the plugin, returns its instance to the
// pool and releases the plugin version.
func (c *Connector) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	defer c.p.leave()
	if c.in == nil {
		return nil
	}
	err := c.in.closeConnector(ctx, c.handle)
	c.p.pool.put(c.in)
	c.in = nil
	if err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}
