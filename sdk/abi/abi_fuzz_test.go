package abi

import (
	"bytes"
	"reflect"
	"testing"
)

// The host decodes what a guest hands it (responses, verdicts, HTTP
// requests, log records) and a guest decodes the host's batches: any bytes
// must decode to an error or to a value that encodes back to the same
// meaning, never panic or allocate by a length field's say-so.

func FuzzDecodeHTTPRequest(f *testing.F) {
	f.Add(AppendHTTPRequest(nil, &HTTPRequest{Method: "POST", URL: "http://127.0.0.1:1/x", Headers: []Header{{Key: "A", Value: []byte("b")}}, Body: []byte("{}")}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeHTTPRequest(b)
		if err != nil {
			return
		}
		again, err := DecodeHTTPRequest(AppendHTTPRequest(nil, &r))
		if err != nil || again.Method != r.Method || again.URL != r.URL || !bytes.Equal(again.Body, r.Body) || len(again.Headers) != len(r.Headers) {
			t.Fatalf("round trip: %+v -> %+v (%v)", r, again, err)
		}
	})
}

func FuzzDecodeLogRecord(f *testing.F) {
	f.Add(AppendLogRecord(nil, "hello", []Header{{Key: "k", Value: []byte("v")}}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeLogRecord(b)
		if err != nil {
			return
		}
		again, err := DecodeLogRecord(AppendLogRecord(nil, r.Msg, r.Attrs))
		if err != nil || again.Msg != r.Msg || len(again.Attrs) != len(r.Attrs) {
			t.Fatalf("round trip: %+v -> %+v (%v)", r, again, err)
		}
	})
}

func FuzzValidateResponse(f *testing.F) {
	ok := AppendU32(OK(nil), 2)
	ok = AppendVerdict(ok, VerdictValid, "")
	ok = AppendVerdict(ok, VerdictInvalid, "missing field")
	f.Add(ok)
	f.Add(Error(nil, "bad schema"))
	f.Add([]byte{StatusOK, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, resp []byte) {
		status, payload, err := SplitResponse(resp)
		if err != nil || status != StatusOK {
			return
		}
		vs, err := DecodeVerdicts(payload, nil)
		if err != nil {
			return
		}
		enc := AppendU32(nil, uint32(len(vs)))
		for _, v := range vs {
			enc = AppendVerdict(enc, v.Code, v.Message)
		}
		again, err := DecodeVerdicts(enc, nil)
		if err != nil || !reflect.DeepEqual(again, vs) {
			t.Fatalf("round trip: %+v -> %+v (%v)", vs, again, err)
		}
	})
}

func FuzzBatch(f *testing.F) {
	var w BatchWriter
	w.AddRecord(&Record{Offset: 7, TimestampMs: 1, Key: []byte("k"), Headers: []Header{{Key: "h", Value: []byte("v")}}, Value: []byte("payload")})
	w.AddItem([]byte("raw"))
	f.Add(bytes.Clone(w.Bytes()))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		br, err := NewBatchReader(b)
		if err != nil {
			return
		}
		n := 0
		for {
			item, ok := br.Next()
			if !ok {
				break
			}
			n++
			rec, err := DecodeRecord(item)
			if err != nil {
				continue
			}
			again, err := DecodeRecord(AppendRecord(nil, &rec))
			if err != nil || again.Offset != rec.Offset || again.TimestampMs != rec.TimestampMs ||
				!bytes.Equal(again.Key, rec.Key) || !bytes.Equal(again.Value, rec.Value) || len(again.Headers) != len(rec.Headers) {
				t.Fatalf("record round trip: %+v -> %+v (%v)", rec, again, err)
			}
		}
		if br.Err() == nil && n != br.Count() {
			t.Fatalf("read %d items of %d without an error", n, br.Count())
		}
	})
}
