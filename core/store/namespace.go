package store

import (
	"context"
	"fmt"
	"time"
)

// Namespace is one module's private slice of the store. Keys are strings of
// up to MaxKeySize bytes; a Namespace can neither see nor touch another's.
type Namespace struct {
	s    *Store
	name string
}

// Name is the namespace's name.
func (n *Namespace) Name() string { return n.name }

// Store returns the store the namespace belongs to.
func (n *Namespace) Store() *Store { return n.s }

// ReadOptions choose how a read is served.
type ReadOptions struct {
	// Revision reads the state as of that revision; 0 is the newest.
	Revision int64
	// Serializable reads local state without a ReadIndex round: faster,
	// possibly stale.
	Serializable bool
}

// PutOptions qualify a put.
type PutOptions struct {
	// TTL makes the key expire; 0 keeps it forever.
	TTL time.Duration
}

func checkKey(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes > %d", ErrKeyTooLarge, len(key), MaxKeySize)
	}
	return nil
}

func (n *Namespace) barrier(ctx context.Context, o ReadOptions) error {
	if o.Serializable {
		return nil
	}
	return n.s.node.ReadIndex(ctx)
}

// Get reads one key. ErrNotFound when it does not exist.
func (n *Namespace) Get(ctx context.Context, key string, o ReadOptions) (*KV, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := n.barrier(ctx, o); err != nil {
		return nil, err
	}
	kv, _, err := n.s.sm.get(n.name, []byte(key), o.Revision)
	return kv, err
}

// List pages through keys starting with prefix, in key order.
func (n *Namespace) List(ctx context.Context, prefix string, o ListOptions) (*ListResult, error) {
	if len(prefix) > MaxKeySize {
		return nil, ErrKeyTooLarge
	}
	if err := n.barrier(ctx, ReadOptions{Serializable: o.Serializable}); err != nil {
		return nil, err
	}
	return n.s.sm.list(n.name, []byte(prefix), o)
}

// Put writes a key and returns the revision of the write and the previous
// value, if any.
func (n *Namespace) Put(ctx context.Context, key string, value []byte, o PutOptions) (*TxnResult, error) {
	op, err := n.PutOp(key, value, o)
	if err != nil {
		return nil, err
	}
	return n.s.propose(ctx, &Command{Kind: KindTxn, Success: []Op{op}})
}

// Delete removes a key; the result's Responses[0].Deleted is 0 when it did
// not exist.
func (n *Namespace) Delete(ctx context.Context, key string) (*TxnResult, error) {
	op, err := n.DeleteOp(key)
	if err != nil {
		return nil, err
	}
	return n.s.propose(ctx, &Command{Kind: KindTxn, Success: []Op{op}})
}

// DeletePrefix removes every key starting with prefix (all keys for "").
func (n *Namespace) DeletePrefix(ctx context.Context, prefix string) (*TxnResult, error) {
	if len(prefix) > MaxKeySize {
		return nil, ErrKeyTooLarge
	}
	return n.s.propose(ctx, &Command{Kind: KindTxn, Success: []Op{{Type: OpDeletePrefix, Namespace: n.name, Key: []byte(prefix)}}})
}

// PutOp builds a put for Txn.
func (n *Namespace) PutOp(key string, value []byte, o PutOptions) (Op, error) {
	if err := checkKey(key); err != nil {
		return Op{}, err
	}
	if len(value) > MaxValueSize {
		return Op{}, fmt.Errorf("%w: %d bytes > %d", ErrValueTooLarge, len(value), MaxValueSize)
	}
	if o.TTL < 0 {
		return Op{}, fmt.Errorf("store: negative ttl %s", o.TTL)
	}
	op := Op{Type: OpPut, Namespace: n.name, Key: []byte(key), Value: value}
	if o.TTL > 0 {
		op.ExpireAt = time.Now().Add(o.TTL).UnixMilli()
	}
	return op, nil
}

// AppendOp builds an OpAppend for Txn: a new key of an append-only log,
// written without reading what was there and without a change-log event
// (watchers of the namespace do not see it).
func (n *Namespace) AppendOp(key string, value []byte) (Op, error) {
	if err := checkKey(key); err != nil {
		return Op{}, err
	}
	if len(value) > MaxValueSize {
		return Op{}, fmt.Errorf("%w: %d bytes > %d", ErrValueTooLarge, len(value), MaxValueSize)
	}
	return Op{Type: OpAppend, Namespace: n.name, Key: []byte(key), Value: value}, nil
}

// TrimOp builds an OpTrim for Txn: it drops a key of an append-only log
// (see AppendOp) without reading it and without a change-log event.
func (n *Namespace) TrimOp(key string) (Op, error) {
	if err := checkKey(key); err != nil {
		return Op{}, err
	}
	return Op{Type: OpTrim, Namespace: n.name, Key: []byte(key)}, nil
}

// DeleteOp builds a delete for Txn.
func (n *Namespace) DeleteOp(key string) (Op, error) {
	if err := checkKey(key); err != nil {
		return Op{}, err
	}
	return Op{Type: OpDelete, Namespace: n.name, Key: []byte(key)}, nil
}

// Cmp builds a comparison on a key of this namespace.
func (n *Namespace) Cmp(key string, target CompareTarget, result CompareResult) Compare {
	return Compare{Namespace: n.name, Key: []byte(key), Target: target, Result: result}
}

// CmpValue compares a key's value.
func (n *Namespace) CmpValue(key string, result CompareResult, value []byte) Compare {
	c := n.Cmp(key, CompareValue, result)
	c.Value = value
	return c
}

// CmpNumber compares a key's version, mod revision or create revision.
func (n *Namespace) CmpNumber(key string, target CompareTarget, result CompareResult, v int64) Compare {
	c := n.Cmp(key, target, result)
	c.Number = v
	return c
}

// Txn runs compares and then either the success or the failure ops,
// atomically, at one revision. Ops must belong to this namespace.
func (n *Namespace) Txn(ctx context.Context, compares []Compare, success, failure []Op) (*TxnResult, error) {
	for _, c := range compares {
		if c.Namespace != n.name {
			return nil, fmt.Errorf("%w: compare on namespace %q from %q", ErrBadNamespace, c.Namespace, n.name)
		}
	}
	for _, ops := range [][]Op{success, failure} {
		for _, op := range ops {
			if op.Namespace != n.name {
				return nil, fmt.Errorf("%w: op on namespace %q from %q", ErrBadNamespace, op.Namespace, n.name)
			}
			if op.Type == OpExpire {
				return nil, fmt.Errorf("store: expire ops are the leader's")
			}
		}
	}
	return n.s.propose(ctx, &Command{Kind: KindTxn, Compares: compares, Success: success, Failure: failure})
}
