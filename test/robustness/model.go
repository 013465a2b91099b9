package robustness

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// keyState is the model's state of one key: porcupine checks each key's
// ops as a partition of its own.
//
// ModRev is the revision of the write that produced the current value when
// RevKnown; otherwise it is only a lower bound (a write whose answer was
// lost, or a delete, happened since). Revisions are raft indexes, shared
// by all keys, so the model cannot predict them, only their order: a later
// write to the key has a higher revision, and a read reports the revision
// of the write it sees.
type keyState struct {
	Exists   bool
	Value    string
	Version  int64
	ModRev   int64
	RevKnown bool
}

// kvModel is etcd's KV semantics as Trellis's v3 API exposes them: put
// (version+1, or 1 on a new key), compare-and-swap on the value (a missing
// key never matches) or on the version (0 = missing), delete (idempotent),
// linearizable get. Requests with an unknown outcome are still running as
// far as porcupine knows (infinite return time): they may take effect at any
// point after their call, or never (at the end, which nothing observes).
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Request).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return keyState{} },
	Step: func(state, input, output any) (bool, any) {
		return step(state.(keyState), input.(Request), output.(Response))
	},
	Equal: func(a, b any) bool { return a.(keyState) == b.(keyState) },
	Hash: func(state any) uint64 {
		s := state.(keyState)
		h := fnv.New64a()
		fmt.Fprintf(h, "%t|%s|%d|%d|%t", s.Exists, s.Value, s.Version, s.ModRev, s.RevKnown)
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		return describe(input.(Request), output.(Response))
	},
	DescribeState: func(state any) string {
		s := state.(keyState)
		rev := fmt.Sprintf(">%d", s.ModRev)
		if s.RevKnown {
			rev = fmt.Sprint(s.ModRev)
		}
		if !s.Exists {
			return fmt.Sprintf("absent (rev %s)", rev)
		}
		return fmt.Sprintf("%s (version %d, rev %s)", s.Value, s.Version, rev)
	},
	DescribeOperationMetadata: func(info any) string {
		if info == nil {
			return ""
		}
		return fmt.Sprint(info)
	},
}

// step applies one request to one key's state; false if the answer is
// impossible in that state.
func step(st keyState, in Request, out Response) (bool, keyState) {
	switch in.Kind {
	case OpGet:
		if !out.Found {
			return !st.Exists, st
		}
		if !st.Exists || out.Value != st.Value || out.Version != st.Version {
			return false, st
		}
		if st.RevKnown && out.ModRev != st.ModRev || !st.RevKnown && out.ModRev <= st.ModRev {
			return false, st
		}
		st.ModRev, st.RevKnown = out.ModRev, true
		return true, st
	case OpPut:
		return write(st, in, out)
	case OpCAS:
		match := matches(st, in)
		switch out.Outcome {
		case CompareFailed:
			return !match, st
		case OK:
			if !match {
				return false, st
			}
			return write(st, in, out)
		default: // unknown: whatever the compare decides
			if !match {
				return true, st
			}
			return write(st, in, out)
		}
	case OpDelete:
		// Applied or not (at the end), and idempotent; the revision of a
		// delete is not reported, so the old one stays a lower bound.
		return true, keyState{ModRev: st.ModRev}
	}
	return false, st
}

func matches(st keyState, in Request) bool {
	if in.PrevValue != nil {
		return st.Exists && st.Value == *in.PrevValue
	}
	v := int64(0)
	if st.Exists {
		v = st.Version
	}
	return v == *in.PrevVersion
}

func write(st keyState, in Request, out Response) (bool, keyState) {
	version := int64(1)
	if st.Exists {
		version = st.Version + 1
	}
	ns := keyState{Exists: true, Value: in.Value, Version: version, ModRev: st.ModRev}
	if out.Outcome == OK {
		if out.Version != version || out.ModRev <= st.ModRev {
			return false, st
		}
		ns.ModRev, ns.RevKnown = out.ModRev, true
	}
	return true, ns
}

func describe(in Request, out Response) string {
	switch out.Outcome {
	case Unknown:
		return in.String() + " -> ?"
	case CompareFailed:
		return in.String() + " -> compare failed"
	}
	switch in.Kind {
	case OpGet, OpStaleGet:
		if !out.Found {
			return in.String() + " -> absent"
		}
		return fmt.Sprintf("%s -> %s (version %d, rev %d)", in, out.Value, out.Version, out.ModRev)
	case OpPut, OpCAS:
		return fmt.Sprintf("%s -> ok (version %d, rev %d)", in, out.Version, out.ModRev)
	}
	return in.String() + " -> ok"
}
