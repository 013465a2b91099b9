package robustness

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// OpKind is a KV request type the clients send.
type OpKind uint8

// The request types.
const (
	OpGet      OpKind = iota // linearizable get
	OpStaleGet               // serializable get (?serializable=true)
	OpPut                    // unconditional put
	OpCAS                    // put with prev_value or prev_version
	OpDelete                 // delete
)

func (k OpKind) String() string {
	return [...]string{"get", "stale-get", "put", "cas", "delete"}[k]
}

// Request is one KV request.
type Request struct {
	Kind  OpKind
	Key   string
	Value string // put, cas
	// Compare-and-swap: exactly one of the two is set.
	PrevValue   *string
	PrevVersion *int64
}

func (r Request) String() string {
	switch r.Kind {
	case OpPut:
		return fmt.Sprintf("put(%s, %s)", r.Key, r.Value)
	case OpCAS:
		if r.PrevValue != nil {
			return fmt.Sprintf("cas(%s, %s if value=%s)", r.Key, r.Value, *r.PrevValue)
		}
		return fmt.Sprintf("cas(%s, %s if version=%d)", r.Key, r.Value, *r.PrevVersion)
	case OpDelete:
		return fmt.Sprintf("delete(%s)", r.Key)
	default:
		return fmt.Sprintf("%s(%s)", r.Kind, r.Key)
	}
}

// Outcome is what the client learned about a request.
type Outcome uint8

// The outcomes. A request that failed definitely changed nothing (it was
// refused before it was proposed, or its connection was never made); one
// with an unknown outcome may or may not have been applied.
const (
	OK      Outcome = iota // acknowledged (a get: answered)
	Failed                 // definitely not applied: 4xx other than 409, refused connection
	Unknown                // timeout, broken connection, 5xx after the request reached the node
	// CompareFailed is a CAS answered 409 compare_failed: it was decided
	// (definitely) and wrote nothing.
	CompareFailed
)

func (o Outcome) String() string {
	return [...]string{"ok", "failed", "unknown", "compare-failed"}[o]
}

// Response is what the client got back.
type Response struct {
	Outcome Outcome
	Found   bool // get: the key exists
	Value   string
	ModRev  int64
	Version int64
	Status  int    // HTTP status, 0 when there was none
	Err     string // why it failed, for the report
}

// Op is one request of the history, with its call and return time in
// nanoseconds since the history began. An op with an unknown outcome has
// Return = math.MaxInt64: it may take effect at any later time, or never.
type Op struct {
	Client      int // porcupine client id (a new one after an unknown outcome)
	Node        uint64
	Incarnation int // the node's process (1 for its first), 0 when it restarted during the request
	Req         Request
	Resp        Response
	Call        int64
	Return      int64
	Phase       Phase
	// Took is the time to the answer (to giving up, for an unknown
	// outcome).
	Took time.Duration
}

// Phase is where in its scenario a request was made.
type Phase uint8

// The phases of a scenario.
const (
	PhaseBefore Phase = iota // healthy cluster, before the fault
	PhaseFault               // from injection until healed
	PhaseAfter               // after healing
	PhaseFinal               // the final reads of the convergence check
)

func (p Phase) String() string { return [...]string{"before", "fault", "after", "final"}[p] }

// History records every client's requests; safe for concurrent use.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
	phase Phase
	ids   int
}

// NewHistory starts an empty history; its clock starts now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the history's clock.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// SetPhase marks the ops called from now on.
func (h *History) SetPhase(p Phase) {
	h.mu.Lock()
	h.phase = p
	h.mu.Unlock()
}

// Phase is the current phase.
func (h *History) Phase() Phase {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.phase
}

// NewClientID hands out porcupine client ids.
func (h *History) NewClientID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids++
	return h.ids - 1
}

// Add records a finished op. An unknown outcome gets an infinite return
// time (porcupine's way of saying "may have happened any time after its
// call").
func (h *History) Add(op Op) {
	if op.Resp.Outcome == Unknown {
		op.Return = math.MaxInt64
	}
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops is a copy of the recorded ops in call order.
func (h *History) Ops() []Op {
	h.mu.Lock()
	ops := slices.Clone(h.ops)
	h.mu.Unlock()
	slices.SortStableFunc(ops, func(a, b Op) int { return cmp64(a.Call, b.Call) })
	return ops
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
