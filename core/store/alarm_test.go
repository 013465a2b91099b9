package store

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

func TestAlarmsReplicateToEveryMember(t *testing.T) {
	c := newTestCluster(t, 3, 0)
	f := c.follower()
	noSpace := Alarm{MemberID: 3, Type: AlarmNoSpace}
	corrupt := Alarm{MemberID: 1, Type: AlarmCorrupt}
	for _, a := range []Alarm{noSpace, corrupt, noSpace} { // the second raise of noSpace is a no-op
		if err := c.stores[f].RaiseAlarm(ctx(t), a); err != nil {
			t.Fatalf("raise %+v: %v", a, err)
		}
	}
	want := []Alarm{corrupt, noSpace} // by member, then type
	testutil.Eventually(t, 10*time.Second, "alarms on every member", func() bool {
		for _, s := range c.stores {
			if !reflect.DeepEqual(s.Alarms(), want) {
				return false
			}
		}
		return true
	})
	lead := c.waitLeader()
	if err := c.stores[lead].DisarmAlarm(ctx(t), noSpace); err != nil {
		t.Fatal(err)
	}
	if err := c.stores[f].DisarmAlarm(ctx(t), noSpace); !errors.Is(err, ErrNoAlarm) {
		t.Fatalf("disarming a disarmed alarm: %v, want ErrNoAlarm", err)
	}
	testutil.Eventually(t, 10*time.Second, "disarm on every member", func() bool {
		for _, s := range c.stores {
			if !reflect.DeepEqual(s.Alarms(), []Alarm{corrupt}) {
				return false
			}
		}
		return true
	})
	if err := c.stores[f].RaiseAlarm(ctx(t), Alarm{MemberID: 1, Type: "NOPE"}); err == nil {
		t.Fatal("unknown alarm type raised")
	}
	if err := c.stores[f].RaiseAlarm(ctx(t), Alarm{Type: AlarmNoSpace}); err == nil {
		t.Fatal("alarm without a member raised")
	}
	if err := c.stores[f].DisarmAlarm(ctx(t), Alarm{MemberID: 1, Type: "NOPE"}); !errors.Is(err, ErrNoAlarm) {
		t.Fatalf("disarm of an unknown type: %v, want ErrNoAlarm", err)
	}
}

func TestNoSpaceRefusesModuleWritesOnly(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	kv, auth := ns(t, s, "kv"), ns(t, s, "core.auth")
	mustPut(t, kv, "a", "1")
	mustPut(t, kv, "b", "2")
	mustPut(t, kv, "dir/x", "3")
	appendOp, _ := kv.AppendOp("log/1", []byte("entry"))
	if _, err := kv.Txn(ctx(t), nil, []Op{appendOp}, nil); err != nil {
		t.Fatal(err)
	}
	before := mustGet(t, kv, "a", ReadOptions{})

	alarm := Alarm{MemberID: 1, Type: AlarmNoSpace}
	if err := s.RaiseAlarm(ctx(t), alarm); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx(t), "a", []byte("changed"), PutOptions{}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("module put under NOSPACE: %v", err)
	}
	// A transaction with a put in either branch is refused whole: its
	// delete does not run either.
	put, _ := kv.PutOp("a", []byte("changed"), PutOptions{})
	del, _ := kv.DeleteOp("b")
	if _, err := kv.Txn(ctx(t), nil, []Op{del}, []Op{put}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("txn with a put under NOSPACE: %v", err)
	}
	appendOp, _ = kv.AppendOp("log/2", []byte("entry"))
	if _, err := kv.Txn(ctx(t), nil, []Op{appendOp}, nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("append under NOSPACE: %v", err)
	}
	if got := mustGet(t, kv, "a", ReadOptions{}); !reflect.DeepEqual(got, before) {
		t.Fatalf("refused writes changed a: %+v, was %+v", got, before)
	}
	mustGet(t, kv, "b", ReadOptions{})
	// Core namespaces stay writable; deletes, trims and compaction free
	// space and run.
	mustPut(t, auth, "session/x", "y")
	if res, err := kv.Delete(ctx(t), "b"); err != nil || res.Responses[0].Deleted != 1 {
		t.Fatalf("delete under NOSPACE: %v", err)
	}
	if res, err := kv.DeletePrefix(ctx(t), "dir/"); err != nil || res.Responses[0].Deleted != 1 {
		t.Fatalf("delete prefix under NOSPACE: %v", err)
	}
	trim, _ := kv.TrimOp("log/1")
	if _, err := kv.Txn(ctx(t), nil, []Op{trim}, nil); err != nil {
		t.Fatalf("trim under NOSPACE: %v", err)
	}
	if err := s.Compact(ctx(t), s.Revision()); err != nil {
		t.Fatalf("compact under NOSPACE: %v", err)
	}

	// The alarm is stored: it survives a restart.
	s.Close()
	s = openSingle(t, dir)
	defer s.Close()
	kv = ns(t, s, "kv")
	if got := s.Alarms(); !reflect.DeepEqual(got, []Alarm{alarm}) {
		t.Fatalf("alarms after restart: %+v", got)
	}
	if _, err := kv.Put(ctx(t), "a", []byte("changed"), PutOptions{}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("module put under NOSPACE after restart: %v", err)
	}
	if err := s.DisarmAlarm(ctx(t), alarm); err != nil {
		t.Fatal(err)
	}
	mustPut(t, kv, "a", "after-disarm")
	if len(s.Alarms()) != 0 {
		t.Fatalf("alarms after disarm: %+v", s.Alarms())
	}
}

func TestCorruptAlarmRefusesModuleWrites(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	mustPut(t, kv, "a", "1")
	if err := s.RaiseAlarm(ctx(t), Alarm{MemberID: 1, Type: AlarmNoSpace}); err != nil {
		t.Fatal(err)
	}
	if err := s.RaiseAlarm(ctx(t), Alarm{MemberID: 2, Type: AlarmCorrupt}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx(t), "a", []byte("2"), PutOptions{}); !errors.Is(err, ErrAlarmCorrupt) {
		t.Fatalf("module put under CORRUPT: %v", err)
	}
	mustPut(t, ns(t, s, "core.audit"), "entry", "recorded")
	if _, err := kv.Delete(ctx(t), "a"); err != nil {
		t.Fatalf("delete under CORRUPT: %v", err)
	}
}

// The check before proposing only spares a raft round: a write that gets
// through (proposed before the alarm applied here) is refused when it
// applies, on every member alike, and writes nothing.
func TestAlarmRefusesAtApply(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	mustPut(t, kv, "a", "1")
	if err := s.RaiseAlarm(ctx(t), Alarm{MemberID: 1, Type: AlarmNoSpace}); err != nil {
		t.Fatal(err)
	}
	revBefore := s.Revision()
	cmd := &Command{Kind: KindTxn, Success: []Op{
		{Type: OpDelete, Namespace: "kv", Key: []byte("a")},
		{Type: OpPut, Namespace: "kv", Key: []byte("b"), Value: []byte("x")},
	}}
	if _, err := s.node.Propose(ctx(t), MarshalCommand(cmd)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("write proposed past the check: %v, want ErrNoSpace", err)
	}
	if s.Revision() <= revBefore {
		t.Fatalf("refused entry did not advance the applied index")
	}
	if got := mustGet(t, kv, "a", ReadOptions{}); string(got.Value) != "1" {
		t.Fatalf("refused txn deleted a: %+v", got)
	}
	if _, err := kv.Get(ctx(t), "b", ReadOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused txn wrote b: %v", err)
	}
}
