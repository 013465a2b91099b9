package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// Alarms are etcd's: raised and disarmed through raft (KindAlarm), stored
// under metaAlarm with the applied index, and kept in memory as an
// immutable alarmSet so every write can check them cheaply. While a NOSPACE
// or CORRUPT alarm is raised, puts and appends to module namespaces (names
// without a dot) are refused at apply time, the same way on every member;
// core.* namespaces stay writable, and deletes, trims and compactions,
// which free space, always run.

// AlarmAction is what a KindAlarm command does with its alarm.
type AlarmAction byte

const (
	// AlarmRaise raises the alarm; raising a raised alarm changes nothing.
	AlarmRaise AlarmAction = iota + 1
	// AlarmDisarm clears the alarm.
	AlarmDisarm
	alarmActionMax = AlarmDisarm
)

func knownAlarmType(t AlarmType) bool { return t == AlarmNoSpace || t == AlarmCorrupt }

func checkAlarm(a Alarm) error {
	if a.MemberID == 0 {
		return fmt.Errorf("store: alarm %s without a member id", a.Type)
	}
	if !knownAlarmType(a.Type) {
		return fmt.Errorf("store: unknown alarm type %q", a.Type)
	}
	return nil
}

func alarmKey(a Alarm) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte(nil), metaAlarm...), a.MemberID)
	return append(k, a.Type...)
}

func compareAlarms(a, b Alarm) int {
	if c := cmp.Compare(a.MemberID, b.MemberID); c != 0 {
		return c
	}
	return strings.Compare(string(a.Type), string(b.Type))
}

// alarmSet is the raised alarms as of the applied revision. It is never
// changed in place: apply swaps in a new one, so readers need no lock.
type alarmSet struct {
	list    []Alarm // sorted by member, then type
	noSpace bool
	corrupt bool
}

func newAlarmSet(list []Alarm) *alarmSet {
	s := &alarmSet{list: list}
	slices.SortFunc(s.list, compareAlarms)
	for _, a := range s.list {
		switch a.Type {
		case AlarmNoSpace:
			s.noSpace = true
		case AlarmCorrupt:
			s.corrupt = true
		}
	}
	return s
}

func (s *alarmSet) has(a Alarm) bool {
	_, found := slices.BinarySearchFunc(s.list, a, compareAlarms)
	return found
}

func (s *alarmSet) with(a Alarm) *alarmSet {
	return newAlarmSet(append(slices.Clone(s.list), a))
}

func (s *alarmSet) without(a Alarm) *alarmSet {
	return newAlarmSet(slices.DeleteFunc(slices.Clone(s.list), func(x Alarm) bool { return x == a }))
}

// moduleNamespace reports whether ns belongs to a module (core.* names
// contain a dot, module names do not).
func moduleNamespace(ns string) bool { return !strings.Contains(ns, ".") }

// refusal is the error cmd meets under these alarms, nil when it may run.
// A transaction with a put or append to a module namespace in either
// branch is refused whole, before its compares, so it writes nothing.
func (s *alarmSet) refusal(cmd *Command) error {
	if !s.noSpace && !s.corrupt || cmd.Kind != KindTxn {
		return nil
	}
	for _, ops := range [][]Op{cmd.Success, cmd.Failure} {
		for i := range ops {
			op := &ops[i]
			if op.Type != OpPut && op.Type != OpAppend || !moduleNamespace(op.Namespace) {
				continue
			}
			if s.corrupt {
				return fmt.Errorf("%w: write to namespace %q refused while a CORRUPT alarm is raised", ErrAlarmCorrupt, op.Namespace)
			}
			return fmt.Errorf("%w: write to namespace %q refused while a NOSPACE alarm is raised", ErrNoSpace, op.Namespace)
		}
	}
	return nil
}

// loadAlarms reads the raised alarms as of the applied index (not later:
// a crash may have left part of a later batch, which apply will redo).
func (sm *stateMachine) loadAlarms() error {
	txn := sm.db.DB().NewTransactionAt(sm.applied.Load(), false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: metaAlarm, PrefetchValues: true})
	defer it.Close()
	var list []Alarm
	for it.Rewind(); it.Valid(); it.Next() {
		var a Alarm
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
			return fmt.Errorf("store: decode alarm %q: %w", it.Item().Key(), err)
		}
		list = append(list, a)
	}
	sm.alarms.Store(newAlarmSet(list))
	return nil
}

// applyAlarm raises or disarms an alarm. Succeeded says whether anything
// changed: false for raising a raised alarm or disarming one that is not.
func (b *batch) applyAlarm(index uint64, cmd *Command) (*TxnResult, error) {
	sm := b.sm
	cur := sm.alarms.Load()
	a := cmd.Alarm
	res := &TxnResult{Revision: int64(index)}
	switch cmd.AlarmAction {
	case AlarmRaise:
		if cur.has(a) {
			return res, nil
		}
		v, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		if err := b.wb.SetEntryAt(badger.NewEntry(alarmKey(a), v), index); err != nil {
			return nil, err
		}
		sm.alarms.Store(cur.with(a))
		sm.logger.Warn("alarm raised", "member", a.MemberID, "alarm", a.Type, "revision", index)
	case AlarmDisarm:
		if !cur.has(a) {
			return res, nil
		}
		if err := b.wb.DeleteAt(alarmKey(a), index); err != nil {
			return nil, err
		}
		sm.alarms.Store(cur.without(a))
		sm.logger.Info("alarm disarmed", "member", a.MemberID, "alarm", a.Type, "revision", index)
	}
	res.Succeeded = true
	return res, nil
}

// Alarms lists the raised alarms, sorted by member then type (empty, not
// nil, when there are none).
func (s *Store) Alarms() []Alarm { return append([]Alarm{}, s.sm.alarms.Load().list...) }

// hasAlarm reports whether a is raised as of this member's applied revision.
func (s *Store) hasAlarm(a Alarm) bool { return s.sm.alarms.Load().has(a) }

// RaiseAlarm raises a through raft. Raising a raised alarm is a no-op.
func (s *Store) RaiseAlarm(ctx context.Context, a Alarm) error {
	if err := checkAlarm(a); err != nil {
		return err
	}
	if _, err := s.propose(ctx, &Command{Kind: KindAlarm, AlarmAction: AlarmRaise, Alarm: a}); err != nil {
		return fmt.Errorf("store: raise alarm %s for member %d: %w", a.Type, a.MemberID, err)
	}
	return nil
}

// DisarmAlarm clears a through raft; ErrNoAlarm when it is not raised.
// Whether it is raised is decided when the command applies, so a member
// that has not yet applied a raise cannot answer ErrNoAlarm wrongly.
func (s *Store) DisarmAlarm(ctx context.Context, a Alarm) error {
	if a.MemberID != 0 && !knownAlarmType(a.Type) {
		return fmt.Errorf("%w: unknown alarm type %q", ErrNoAlarm, a.Type)
	}
	if err := checkAlarm(a); err != nil {
		return err
	}
	res, err := s.propose(ctx, &Command{Kind: KindAlarm, AlarmAction: AlarmDisarm, Alarm: a})
	if err != nil {
		return fmt.Errorf("store: disarm alarm %s for member %d: %w", a.Type, a.MemberID, err)
	}
	if !res.Succeeded {
		return fmt.Errorf("%w: %s for member %d", ErrNoAlarm, a.Type, a.MemberID)
	}
	return nil
}
