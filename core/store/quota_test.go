package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

func TestQuotaMonitorRaisesNoSpace(t *testing.T) {
	s := openSingleWith(t, "", func(o *Options) {
		o.QuotaBytes = 4 << 10 // less than an empty Badger's files
		o.QuotaCheckInterval = 20 * time.Millisecond
	})
	defer s.Close()
	if size := s.StateSize(); size <= 4<<10 {
		t.Fatalf("state size %d is not over the test's quota", size)
	}
	want := Alarm{MemberID: 1, Type: AlarmNoSpace}
	testutil.Eventually(t, 10*time.Second, "the quota monitor to raise NOSPACE", func() bool { return s.hasAlarm(want) })
	kv := ns(t, s, "kv")
	if _, err := kv.Put(ctx(t), "k", []byte("v"), PutOptions{}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("put over quota: %v", err)
	}
	// An operator disarms; the monitor never does, and raises again while
	// the store is still over the quota.
	if err := s.DisarmAlarm(ctx(t), want); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "NOSPACE raised again", func() bool { return s.hasAlarm(want) })
	if got := s.Alarms(); len(got) != 1 {
		t.Fatalf("alarms: %+v, want one NOSPACE", got)
	}
}

func TestNoQuotaNoAlarm(t *testing.T) {
	s := openSingleWith(t, "", func(o *Options) { o.QuotaCheckInterval = 10 * time.Millisecond })
	defer s.Close()
	kv := ns(t, s, "kv")
	for i := 0; i < 20; i++ {
		mustPut(t, kv, fmt.Sprint(i), "v")
	}
	time.Sleep(100 * time.Millisecond)
	if a := s.Alarms(); len(a) != 0 {
		t.Fatalf("alarms without a quota: %+v", a)
	}
}

// StateSize follows what is written at once, without waiting for Badger's
// once-a-minute size refresh.
func TestStateSizeFollowsWrites(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	before := s.StateSize()
	if before <= 0 {
		t.Fatalf("state size of a new store: %d", before)
	}
	kv := ns(t, s, "kv")
	val := make([]byte, 900)
	var ops []Op
	for i := 0; i < 4000; i++ {
		op, _ := kv.PutOp(fmt.Sprintf("k%05d", i), val, PutOptions{})
		ops = append(ops, op)
		if len(ops) == 200 {
			if _, err := kv.Txn(ctx(t), nil, ops, nil); err != nil {
				t.Fatal(err)
			}
			ops = nil
		}
	}
	if after := s.StateSize(); after < before+3<<20 {
		t.Fatalf("state size %d after writing 3.6 MB, %d before", after, before)
	}
}
