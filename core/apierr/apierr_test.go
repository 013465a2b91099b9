package apierr

import (
	"net/http"
	"reflect"
	"testing"
)

func TestErrorf(t *testing.T) {
	e := Errorf(http.StatusConflict, "compare_failed", "key %s changed", "a")
	if e.Status != http.StatusConflict || e.Code != "compare_failed" || e.Message != "key a changed" || e.Extra != nil {
		t.Errorf("Errorf = %+v", e)
	}
	if e.Error() != e.Message {
		t.Errorf("Error() = %q, want the message", e.Error())
	}
}

func TestBadRequest(t *testing.T) {
	e := BadRequest("%s is required", "key")
	if e.Status != http.StatusBadRequest || e.Code != CodeInvalid || e.Message != "key is required" {
		t.Errorf("BadRequest = %+v", e)
	}
}

func TestWith(t *testing.T) {
	e := BadRequest("x")
	if got := e.With("current_revision", int64(7), 3, "three", "odd"); got != e {
		t.Fatal("With returned another error")
	}
	e.With("retain_count", 2)
	want := map[string]any{"current_revision": int64(7), "3": "three", "retain_count": 2}
	if !reflect.DeepEqual(e.Extra, want) {
		t.Errorf("Extra = %v, want %v", e.Extra, want)
	}
}
