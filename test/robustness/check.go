package robustness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is what the checks made of one history.
type Verdict struct {
	Ops        int // every request sent
	Checked    int // requests porcupine checked (linearizable gets and writes that may have happened)
	Unknown    int // writes with an unknown outcome
	Refused    int // requests refused definitely (nothing written) and reads that failed
	StaleReads int // stale reads checked
	Result     porcupine.CheckResult
	// Visualization is the path of porcupine's HTML for a failed check.
	Visualization string
	// StaleViolations break the stale-read guarantee; StaleNotes are
	// stale reads that went backwards across a restart of their node
	// (reported, not a violation: see checkStale).
	StaleViolations []string
	StaleNotes      []string
}

// OK reports whether every check passed.
func (v *Verdict) OK() bool {
	return v.Result == porcupine.Ok && len(v.StaleViolations) == 0
}

// linearizabilityTimeout bounds porcupine; a history it cannot decide in
// time counts as a failure (Result Unknown).
const linearizabilityTimeout = 3 * time.Minute

// CheckHistory checks ops: the linearizable part with porcupine (writing
// the visualization to vizPath when it fails and vizPath is set), the stale
// reads against their weaker guarantee.
func CheckHistory(ops []Op, vizPath string) Verdict {
	v := Verdict{Ops: len(ops)}
	var hist []porcupine.Operation
	for _, op := range ops {
		switch {
		case op.Req.Kind == OpStaleGet:
			continue
		case op.Req.Kind == OpGet && op.Resp.Outcome != OK:
			v.Refused++ // a read that failed tells nothing
			continue
		case op.Resp.Outcome == Failed:
			v.Refused++
			continue
		case op.Resp.Outcome == Unknown:
			v.Unknown++
		}
		hist = append(hist, porcupine.Operation{
			ClientId: op.Client, Input: op.Req, Output: op.Resp, Call: op.Call, Return: op.Return,
			Metadata: fmt.Sprintf("node %d/%d %s %s", op.Node, op.Incarnation, op.Phase, op.Resp.Err),
		})
	}
	v.Checked = len(hist)
	res, info := porcupine.CheckOperationsVerbose(kvModel, hist, linearizabilityTimeout)
	v.Result = res
	if res != porcupine.Ok && vizPath != "" {
		os.MkdirAll(filepath.Dir(vizPath), 0o755)
		if err := porcupine.VisualizePath(kvModel, info, vizPath); err == nil {
			v.Visualization = vizPath
		}
	}
	v.StaleReads, v.StaleViolations, v.StaleNotes = checkStale(ops)
	return v
}

// checkStale checks serializable reads, which may be stale but never
// invented nor going backwards:
//
//   - a value read was written by some put or compare-and-swap of the
//     same key in the history (whatever its outcome), and when that write
//     was acknowledged, the read reports its revision and version;
//   - on one node process, a read called after another read of the same
//     key returned never reports an older revision.
//
// Reads that go backwards across a restart of the node are notes: a node
// serves its local state as soon as it is up, and entries it had applied
// but not yet flushed are re-applied from the raft log after start.
func checkStale(ops []Op) (checked int, violations, notes []string) {
	writes := map[string]map[string]*Op{} // key -> value -> write
	for i := range ops {
		op := &ops[i]
		if (op.Req.Kind == OpPut || op.Req.Kind == OpCAS) && (op.Resp.Outcome == OK || op.Resp.Outcome == Unknown) {
			if writes[op.Req.Key] == nil {
				writes[op.Req.Key] = map[string]*Op{}
			}
			writes[op.Req.Key][op.Req.Value] = op
		}
	}
	type series struct {
		node uint64
		inc  int
		key  string
	}
	reads := map[series][]*Op{}
	byNode := map[series][]*Op{} // inc 0: every incarnation
	for i := range ops {
		op := &ops[i]
		if op.Req.Kind != OpStaleGet || op.Resp.Outcome != OK {
			continue
		}
		checked++
		if op.Resp.Found {
			w := writes[op.Req.Key][op.Resp.Value]
			switch {
			case w == nil:
				violations = append(violations, fmt.Sprintf("stale read on node %d of %s returned %q (rev %d), which no request wrote",
					op.Node, op.Req.Key, op.Resp.Value, op.Resp.ModRev))
			case w.Resp.Outcome == OK && (w.Resp.ModRev != op.Resp.ModRev || w.Resp.Version != op.Resp.Version):
				violations = append(violations, fmt.Sprintf("stale read on node %d of %s returned %q at rev %d version %d; the write was acknowledged at rev %d version %d",
					op.Node, op.Req.Key, op.Resp.Value, op.Resp.ModRev, op.Resp.Version, w.Resp.ModRev, w.Resp.Version))
			}
		}
		if op.Incarnation == 0 {
			continue // answered by an unknown process of the node
		}
		s := series{op.Node, op.Incarnation, op.Req.Key}
		reads[s] = append(reads[s], op)
		s.inc = 0
		byNode[s] = append(byNode[s], op)
	}
	for s, rs := range reads {
		for i, r := range regressions(rs) {
			if i == 5 {
				break
			}
			violations = append(violations, fmt.Sprintf("node %d, key %s: %s", s.node, s.key, r))
		}
	}
	// Regressions between two processes of a node are notes; within one
	// they are violations (above).
	for s, rs := range byNode {
		n := 0
		for _, r := range regressions(rs) {
			if r.earlier.Incarnation != r.later.Incarnation && n < 5 {
				notes = append(notes, fmt.Sprintf("node %d, key %s: %s", s.node, s.key, r))
				n++
			}
		}
	}
	slices.Sort(violations)
	slices.Sort(notes)
	return checked, violations, notes
}

// regression is a read (later) that reported an older revision than a
// read of the same key on the same node that had returned before it was
// called (earlier).
type regression struct{ earlier, later *Op }

func (r regression) String() string {
	return fmt.Sprintf("read at %s (process %d) saw rev %d (%q) after a read that returned at %s (process %d) saw rev %d (%q)",
		time.Duration(r.later.Call), r.later.Incarnation, r.later.Resp.ModRev, r.later.Resp.Value,
		time.Duration(r.earlier.Return), r.earlier.Incarnation, r.earlier.Resp.ModRev, r.earlier.Resp.Value)
}

// regressions finds the reads of rs (one node, one key) that went
// backwards, each against the newest read that had returned before it.
func regressions(rs []*Op) []regression {
	byCall := slices.Clone(rs)
	slices.SortFunc(byCall, func(a, b *Op) int { return cmp64(a.Call, b.Call) })
	byReturn := slices.Clone(rs)
	slices.SortFunc(byReturn, func(a, b *Op) int { return cmp64(a.Return, b.Return) })
	var out []regression
	var max *Op
	j := 0
	for _, r := range byCall {
		for j < len(byReturn) && byReturn[j].Return < r.Call {
			if e := byReturn[j]; e.Resp.Found && (max == nil || e.Resp.ModRev > max.Resp.ModRev) {
				max = e
			}
			j++
		}
		if r.Resp.Found && max != nil && r.Resp.ModRev < max.Resp.ModRev {
			out = append(out, regression{earlier: max, later: r})
		}
	}
	return out
}
