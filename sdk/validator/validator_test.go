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

func init() {
	Register(Info{Name: "lengths", Version: "1.0.0"}, func(schema []byte) (Schema, error) {
		if len(schema) == 0 {
			return nil, errors.New("empty schema")
		}
		n := len(schema)
		return SchemaFunc(func(p []byte) error {
			if len(p) != n {
				return errors.New("wrong length")
			}
			return nil
		}), nil
	})
}

func TestCompileValidateRelease(t *testing.T) {
	if _, err := compile(nil); err == nil {
		t.Fatal("empty schema compiled")
	}
	h, err := compile([]byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	var w abi.BatchWriter
	w.AddItem([]byte("xyz"))
	w.AddItem([]byte("xy"))
	out, err := validate(h, w.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := abi.DecodeVerdicts(out, nil)
	if len(vs) != 2 || vs[0].Code != abi.VerdictValid || vs[1].Code != abi.VerdictInvalid {
		t.Fatalf("verdicts %+v", vs)
	}
	if err := release(h); err != nil {
		t.Fatal(err)
	}
}
