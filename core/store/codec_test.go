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

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []*Command{sampleCommand(), {Kind: KindCompact, Revision: 42}, {Kind: KindTxn}} {
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

// FuzzUnmarshalCommand: any input either fails cleanly or decodes to a
// command that re-encodes to the same bytes.
func FuzzUnmarshalCommand(f *testing.F) {
	f.Add(MarshalCommand(sampleCommand()))
	f.Add(MarshalCommand(&Command{Kind: KindCompact, Revision: 7}))
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
