package connector

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/guest"
)

// recorder is a connector that remembers what it was given.
type recorder struct {
	cfg     Config
	got     []string
	closed  bool
	failAt  string
	panicAt string
}

var last *recorder

func init() {
	Register(Info{Name: "recorder", Version: "1.0.0",
		Config: []ConfigKey{{Name: "fail_at", Type: "string"}, {Name: "panic_at", Type: "string"}}},
		func() Connector { last = &recorder{}; return last })
}

func (r *recorder) Open(cfg Config) error {
	r.cfg = cfg
	r.failAt, r.panicAt = cfg.String("fail_at"), cfg.String("panic_at")
	return nil
}

func (r *recorder) Write(batch []Record) error {
	return EachRecord(batch, func(rec Record) error {
		v := string(rec.Value)
		if v == r.failAt {
			return errors.New("refused " + v)
		}
		if v == r.panicAt {
			panic("boom at " + v)
		}
		r.got = append(r.got, string(rec.Key)+"="+v+"/"+rec.Headers[0].Key)
		return nil
	})
}

func (r *recorder) Close() error { r.closed = true; return nil }

func batch(values ...string) []byte {
	var w abi.BatchWriter
	for i, v := range values {
		w.AddRecord(&abi.Record{Offset: uint64(i), Key: []byte("k"), Value: []byte(v),
			Headers: []abi.Header{{Key: "h", Value: []byte("x")}}})
	}
	return w.Bytes()
}

func TestOpenWriteClose(t *testing.T) {
	if !strings.Contains(string(guest.Describe()), `"kind":"connector"`) {
		t.Fatalf("describe: %s", guest.Describe())
	}
	h, err := open([]byte(`{"fail_at": "bad", "panic_at": "worse"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := last
	if n, err := write(h, batch("a", "b")); err != nil || n != 2 || strings.Join(r.got, ",") != "k=a/h,k=b/h" {
		t.Fatalf("write: %d %v %v", n, err, r.got)
	}
	if n, err := write(h, batch("c", "bad", "d")); n != 1 || err == nil || !strings.Contains(err.Error(), "refused bad") {
		t.Fatalf("partial write: %d %v", n, err)
	}
	if n, err := write(h, batch("worse")); n != 0 || err == nil || !strings.Contains(err.Error(), "panic: boom at worse") {
		t.Fatalf("panicking write: %d %v", n, err)
	}
	if n, err := write(h, batch()); n != 0 || err != nil {
		t.Fatalf("empty batch: %d %v", n, err)
	}
	if _, err := write(h, []byte{1, 0, 0, 0}); err == nil {
		t.Fatal("truncated batch accepted")
	}
	if _, err := write(h+100, batch("a")); err == nil {
		t.Fatal("write to an unknown handle")
	}
	if err := closeHandle(h); err != nil || !r.closed {
		t.Fatalf("close: %v", err)
	}
	if err := closeHandle(h); err == nil {
		t.Fatal("second close")
	}
	if _, err := open([]byte(`{"nope": 1}`)); err == nil {
		t.Fatal("unknown key accepted")
	}
}
