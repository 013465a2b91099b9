package store

import (
	"reflect"
	"testing"
)

func sampleCommand() *Command {
	return &Command{
		Kind: KindTxn,
		Compares: []Compare{
			{Namespace: "kv", Key: []byte("a"), Target: CompareValue, Result: Equal, Value: []byte("x")},
			{Namespace: "kv", Key: []byte("b"), Target: CompareVersion, Result: Greater, Number: -3},
		},
		Success: []Op{
			{Type: OpPut, Namespace: "kv", Key: []byte("a"), Value: []byte("y"), ExpireAt: 1700000000000},
			{Type: OpDeletePrefix, Namespace: "kv", Key: []byte("dir/")},
		},
		Failure: []Op{{Type: OpDelete, Namespace: "kv", Key: []byte("a")}},
	}
}

func sampleAlarmCommand() *Command {
	return &Command{Kind: KindAlarm, AlarmAction: AlarmRaise, Alarm: Alarm{MemberID: 0xfeedface12, Type: AlarmNoSpace}}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []*Command{sampleCommand(), {Kind: KindCompact, Revision: 42}, {Kind: KindTxn}, sampleAlarmCommand(),
		{Kind: KindAlarm, AlarmAction: AlarmDisarm, Alarm: Alarm{MemberID: 1, Type: AlarmCorrupt}}} {
		got, err := UnmarshalCommand(MarshalCommand(c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(c)) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
}

// normalize maps empty byte slices to nil so DeepEqual compares content.
func normalize(c *Command) *Command {
	n := *c
	fix := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	n.Compares = append([]Compare(nil), c.Compares...)
	for i := range n.Compares {
		n.Compares[i].Key, n.Compares[i].Value = fix(n.Compares[i].Key), fix(n.Compares[i].Value)
	}
	for _, ops := range []*[]Op{&n.Success, &n.Failure} {
		*ops = append([]Op(nil), (*ops)...)
		for i := range *ops {
			(*ops)[i].Key, (*ops)[i].Value = fix((*ops)[i].Key), fix((*ops)[i].Value)
		}
	}
	return &n
}

func TestCommandRejectsCorruption(t *testing.T) {
	good := MarshalCommand(sampleCommand())
	for cut := 0; cut < len(good); cut++ {
		if _, err := UnmarshalCommand(good[:cut]); err == nil {
			t.Fatalf("truncated to %d bytes decoded without error", cut)
		}
	}
	if _, err := UnmarshalCommand(append(good, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	bad := append([]byte(nil), good...)
	bad[0] = 99
	if _, err := UnmarshalCommand(bad); err == nil {
		t.Fatal("unknown codec version accepted")
	}
}

func TestAlarmCommandRejectsCorruption(t *testing.T) {
	good := MarshalCommand(sampleAlarmCommand())
	for cut := 0; cut < len(good); cut++ {
		if _, err := UnmarshalCommand(good[:cut]); err == nil {
			t.Fatalf("alarm command truncated to %d bytes decoded without error", cut)
		}
	}
	for name, c := range map[string]*Command{
		"unknown action": {Kind: KindAlarm, AlarmAction: 9, Alarm: Alarm{MemberID: 1, Type: AlarmNoSpace}},
		"no action":      {Kind: KindAlarm, Alarm: Alarm{MemberID: 1, Type: AlarmNoSpace}},
		"unknown type":   {Kind: KindAlarm, AlarmAction: AlarmRaise, Alarm: Alarm{MemberID: 1, Type: "NOPE"}},
		"ops in alarm":   {Kind: KindAlarm, AlarmAction: AlarmRaise, Alarm: Alarm{MemberID: 1, Type: AlarmNoSpace}, Success: []Op{{Type: OpDelete, Namespace: "kv", Key: []byte("a")}}},
	} {
		if _, err := UnmarshalCommand(MarshalCommand(c)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// A command of another kind carries no alarm fields: they are not
	// encoded, so they cannot ride along.
	c := &Command{Kind: KindCompact, Revision: 3, AlarmAction: AlarmRaise, Alarm: Alarm{MemberID: 1, Type: AlarmNoSpace}}
	got, err := UnmarshalCommand(MarshalCommand(c))
	if err != nil || got.AlarmAction != 0 || got.Alarm != (Alarm{}) {
		t.Fatalf("compact with alarm fields: %+v, %v", got, err)
	}
}

// FuzzUnmarshalCommand: any input either fails cleanly or decodes to a
// command that re-encodes to the same bytes.
func FuzzUnmarshalCommand(f *testing.F) {
	f.Add(MarshalCommand(sampleCommand()))
	f.Add(MarshalCommand(&Command{Kind: KindCompact, Revision: 7}))
	f.Add(MarshalCommand(sampleAlarmCommand()))
	f.Add(MarshalCommand(&Command{Kind: KindAlarm, AlarmAction: AlarmDisarm, Alarm: Alarm{MemberID: 3, Type: AlarmCorrupt}}))
	f.Add([]byte{1, 3, 0, 0, 0, 0, 1, 1, 7, 'N', 'O', 'S', 'P', 'A', 'C', 'E'})
	f.Add([]byte{1, 1, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalCommand(b)
		if err != nil {
			return
		}
		again, err := UnmarshalCommand(MarshalCommand(c))
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(c)) {
			t.Fatalf("re-encoding changed the command")
		}
	})
}
