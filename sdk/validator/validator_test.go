package validator

import (
	"errors"
	"testing"

	"github.com/trellis-cp/trellis/sdk/abi"
)

func TestValidateVerdicts(t *testing.T) {
	schemas[7] = SchemaFunc(func(p []byte) error {
		switch string(p) {
		case "good":
			return nil
		case "later":
			return ErrNotImplemented
		case "unsure":
			return Undecided(errors.New("cannot tell"))
		case "boom":
			panic("boom")
		}
		return errors.New("bad payload")
	})
	defer delete(schemas, 7)
	var w abi.BatchWriter
	for _, p := range []string{"good", "bad", "later", "unsure", "boom"} {
		w.AddItem([]byte(p))
	}
	out, err := validate(7, w.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := abi.DecodeVerdicts(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{abi.VerdictValid, abi.VerdictInvalid, abi.VerdictError, abi.VerdictError, abi.VerdictError}
	for i, v := range vs {
		if v.Code != want[i] {
			t.Fatalf("payload %d: verdict %d %q, want %d", i, v.Code, v.Message, want[i])
		}
	}
	if _, err := validate(99, w.Bytes(), nil); err == nil {
		t.Fatal("unknown handle accepted")
	}
	if err := release(7); err != nil || release(7) == nil {
		t.Fatal("release")
	}
}
