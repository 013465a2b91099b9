package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func TestStoredAppendJSONMatchesMarshal(t *testing.T) {
	cases := []stored{
		{},
		{Entry: Entry{ID: 42_000_001, Timestamp: 1700000000, Username: "admin", Operation: "PUT /api/kv/v3/put",
			Target: "/a", Params: `{"ttl":0,"value_bytes":256}`, Result: "200 OK", DurationMs: 3, Success: true,
			Status: 200, NodeID: 18446744073709551615, Time: time.Date(2026, 11, 23, 8, 1, 2, 345678900, time.UTC),
			RequestID: "abc-1", ClientAddr: "127.0.0.1:5000"}, Seq: 7},
		{Entry: Entry{Username: "<script>\u2028\xff", Target: "\x00\"\\", Params: "", Status: 401, ID: -1,
			Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", -(23*3600+59*60)))}, Seq: -3},
		{Entry: Entry{Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("east", 5*3600+30*60))}},
		{Entry: Entry{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local), ClientAddr: "[::1]:80"}},
	}
	for _, s := range cases {
		checkStoredEncoding(t, s)
	}
}

func FuzzStoredAppendJSON(f *testing.F) {
	f.Add(int64(1), "admin", "POST /x", "/x", `{"a":1}`, "200 OK", 200, "id", "addr", int64(1700000000123456789), 3600, 5)
	f.Add(int64(-9), "\xff<", "", "\u2029", "", "", -1, "", "", int64(-62135596800000000), -86399, 0)
	f.Fuzz(func(t *testing.T, id int64, user, op, target, params, result string, status int, reqID, addr string, nanos int64, offset, seq int) {
		s := stored{Entry: Entry{ID: id, Timestamp: nanos / 1e9, Username: user, Operation: op, Target: target,
			Params: params, Result: result, DurationMs: id / 7, Success: status < 400, Status: status,
			NodeID: uint64(id), Time: time.Unix(0, nanos).In(time.FixedZone("z", offset)), RequestID: reqID,
			ClientAddr: addr}, Seq: seq}
		checkStoredEncoding(t, s)
	})
}

// checkStoredEncoding holds appendJSON to json.Marshal: the same bytes, or
// a refusal exactly where json.Marshal fails.
func checkStoredEncoding(t *testing.T, s stored) {
	t.Helper()
	want, err := json.Marshal(s)
	got, ok := s.appendJSON(nil)
	if err != nil {
		if ok {
			t.Fatalf("json.Marshal fails (%v) but appendJSON wrote %s", err, got)
		}
		return
	}
	if !ok {
		t.Fatalf("appendJSON refused what json.Marshal wrote: %s", want)
	}
	if string(got) != string(want) {
		t.Fatalf("appendJSON:   %s\njson.Marshal: %s", got, want)
	}
}

// A time json.Marshal cannot write still fails the entry (counted, not
// stored half-written) instead of writing something Marshal would refuse.
func TestEncodeRefusesTimeOutOfRange(t *testing.T) {
	l := &Log{log: testLogger()}
	if _, ok := l.encode(&Entry{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, 0); ok {
		t.Fatal("encoded a year-10000 entry")
	}
	if l.failed.Load() != 1 {
		t.Fatalf("failed = %d, want 1", l.failed.Load())
	}
}
