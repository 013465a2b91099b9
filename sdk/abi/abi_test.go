package abi

import (
	"bytes"
	"fmt"
	"testing"
)

func TestPack(t *testing.T) {
	p, n := Unpack(Pack(0xdeadbeef, 12345))
	if p != 0xdeadbeef || n != 12345 {
		t.Fatalf("unpack = %#x, %d", p, n)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		var w BatchWriter
		w.Reset()
		for i := 0; i < n; i++ {
			w.AddItem([]byte(fmt.Sprintf("item-%d", i)))
		}
		br, err := NewBatchReader(w.Bytes())
		if err != nil || br.Count() != n {
			t.Fatalf("n=%d: count %d, %v", n, br.Count(), err)
		}
		i := 0
		for item, ok := br.Next(); ok; item, ok = br.Next() {
			if string(item) != fmt.Sprintf("item-%d", i) {
				t.Fatalf("item %d = %q", i, item)
			}
			i++
		}
		if i != n || br.Err() != nil {
			t.Fatalf("read %d of %d: %v", i, n, br.Err())
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	in := Record{Offset: 42, TimestampMs: -7, Key: []byte("k"), Value: []byte("value"),
		Headers: []Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}}
	var w BatchWriter
	w.AddRecord(&in)
	w.AddRecord(&Record{})
	br, err := NewBatchReader(w.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	item, _ := br.Next()
	if len(item) != RecordSize(&in) {
		t.Fatalf("item %d bytes, RecordSize %d", len(item), RecordSize(&in))
	}
	out, err := DecodeRecord(item)
	if err != nil || out.Offset != 42 || out.TimestampMs != -7 || string(out.Key) != "k" || string(out.Value) != "value" ||
		len(out.Headers) != 2 || out.Headers[0].Key != "a" || string(out.Headers[0].Value) != "1" {
		t.Fatalf("decoded %+v, %v", out, err)
	}
	empty, _ := br.Next()
	if r, err := DecodeRecord(empty); err != nil || r.Offset != 0 || len(r.Value) != 0 {
		t.Fatalf("empty record %+v, %v", r, err)
	}
	// A record with trailing bytes (a later minor revision's fields)
	// still decodes.
	if _, err := DecodeRecord(append(bytes.Clone(item), 1, 2, 3)); err != nil {
		t.Fatalf("trailing bytes: %v", err)
	}
}

func TestTruncatedInputsFailCleanly(t *testing.T) {
	var w BatchWriter
	w.AddRecord(&Record{Key: []byte("key"), Value: []byte("value"), Headers: []Header{{Key: "h", Value: []byte("v")}}})
	full := w.Bytes()
	for i := 0; i < len(full); i++ {
		br, err := NewBatchReader(full[:i])
		if err != nil {
			continue
		}
		for item, ok := br.Next(); ok; item, ok = br.Next() {
			DecodeRecord(item)
		}
		if br.Err() == nil && br.Count() > 0 {
			t.Fatalf("prefix %d read as a whole batch", i)
		}
	}
	item := full[8:]
	for i := 0; i < len(item); i++ {
		if _, err := DecodeRecord(item[:i]); err == nil {
			t.Fatalf("record prefix %d decoded", i)
		}
	}
	// A huge declared count is refused before any allocation.
	if _, err := NewBatchReader([]byte{0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Fatal("count without items accepted")
	}
	if _, err := DecodeRecord(append(make([]byte, 20), 0xff, 0xff, 0xff, 0x7f)); err == nil {
		t.Fatal("header count without headers accepted")
	}
}

func TestResponses(t *testing.T) {
	st, p, err := SplitResponse(AppendU32(OK(nil), 7))
	if err != nil || st != StatusOK || len(p) != 4 {
		t.Fatalf("ok: %d %v %v", st, p, err)
	}
	st, p, err = SplitResponse(Error(nil, "boom"))
	if err != nil || st != StatusError || string(p) != "boom" {
		t.Fatalf("error: %d %q %v", st, p, err)
	}
	if _, _, err := SplitResponse(nil); err == nil {
		t.Fatal("empty response accepted")
	}
	if _, _, err := SplitResponse([]byte{9}); err != ErrBadStatus {
		t.Fatalf("bad status: %v", err)
	}
	body := AppendU32(nil, 3)
	body = AppendVerdict(body, VerdictValid, "")
	body = AppendVerdict(body, VerdictInvalid, "why")
	body = AppendVerdict(body, VerdictError, "later")
	vs, err := DecodeVerdicts(body, nil)
	if err != nil || len(vs) != 3 || vs[1].Message != "why" || vs[2].Code != VerdictError {
		t.Fatalf("verdicts %+v, %v", vs, err)
	}
	if _, err := DecodeVerdicts(AppendU32(nil, 1000), nil); err == nil {
		t.Fatal("verdict count without verdicts accepted")
	}
}

func TestHTTPAndLogEncodings(t *testing.T) {
	req := HTTPRequest{Method: "POST", URL: "http://x/y", Headers: []Header{{Key: "A", Value: []byte("b")}}, Body: []byte("body")}
	got, err := DecodeHTTPRequest(AppendHTTPRequest(nil, &req))
	if err != nil || got.Method != "POST" || got.URL != req.URL || string(got.Body) != "body" || got.Headers[0].Key != "A" {
		t.Fatalf("request %+v, %v", got, err)
	}
	head, err := DecodeHTTPHead(AppendHTTPHead(nil, &HTTPHead{Status: 204, Headers: req.Headers}))
	if err != nil || head.Status != 204 || len(head.Headers) != 1 {
		t.Fatalf("head %+v, %v", head, err)
	}
	rec, err := DecodeLogRecord(AppendLogRecord(nil, "msg", []Header{{Key: "k", Value: []byte("v")}}))
	if err != nil || rec.Msg != "msg" || rec.Attrs[0].Key != "k" {
		t.Fatalf("log %+v, %v", rec, err)
	}
	if _, err := DecodeHTTPHead([]byte{1, 2}); err == nil {
		t.Fatal("short head accepted")
	}
}

func TestRequiredExports(t *testing.T) {
	if len(RequiredExports(KindConnector)) != 3 || len(RequiredExports(KindValidator)) != 3 || RequiredExports("x") != nil {
		t.Fatal("required exports")
	}
	for _, e := range append(RequiredExports(KindConnector), RequiredExports(KindValidator)...) {
		if e[:len(ExportPrefix)] != ExportPrefix {
			t.Fatalf("%s is outside the namespace", e)
		}
	}
}
