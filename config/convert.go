package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// convert turns a raw value into the Go type t of a config key.
//
// File values must already have the right type (strict: `http.addr: 8080`
// is an error, not "8080"), except that durations are written as strings
// ("15m") and may be the number 0. When text is true the value is a string
// from the environment or a flag and is parsed instead. Integers are parsed
// in base 10 only, so "010" is ten, not octal eight.
func convert(t reflect.Type, v any, text bool) (any, error) {
	if s, ok := v.(string); ok && (text || t == durationType) {
		return parseText(t, s)
	}
	rv := reflect.ValueOf(v)
	switch {
	case t == durationType:
		if isNumber(rv.Kind()) && rv.IsZero() {
			return time.Duration(0), nil
		}
	case t.Kind() == reflect.String || t.Kind() == reflect.Bool:
		if rv.Kind() == t.Kind() {
			return rv.Convert(t).Interface(), nil
		}
	case isNumber(t.Kind()):
		if out, ok := convertNumber(t, rv); ok {
			return out.Interface(), nil
		}
	}
	return nil, wantError(t, v)
}

// parseText parses an environment or flag string as type t.
func parseText(t reflect.Type, s string) (any, error) {
	out := reflect.New(t).Elem()
	var err error
	switch k := t.Kind(); {
	case t == durationType:
		var d time.Duration
		d, err = time.ParseDuration(s)
		out.SetInt(int64(d))
	case k == reflect.String:
		out.SetString(s)
	case k == reflect.Bool:
		var b bool
		b, err = strconv.ParseBool(s)
		out.SetBool(b)
	case isSigned(k):
		var i int64
		i, err = strconv.ParseInt(s, 10, t.Bits())
		out.SetInt(i)
	case isUnsigned(k):
		var u uint64
		u, err = strconv.ParseUint(s, 10, t.Bits())
		out.SetUint(u)
	case isFloat(k):
		var f float64
		f, err = strconv.ParseFloat(s, t.Bits())
		out.SetFloat(f)
	default:
		err = errors.New("unsupported type")
	}
	if err != nil {
		return nil, wantError(t, s)
	}
	return out.Interface(), nil
}

// convertNumber converts any Go number to t when it fits exactly: JSON
// numbers arrive as float64, YAML as int, TOML as int64.
func convertNumber(t reflect.Type, rv reflect.Value) (reflect.Value, bool) {
	out := reflect.New(t).Elem()
	k := t.Kind()
	switch src := rv.Kind(); {
	case isFloat(k) && isNumber(src):
		var f float64
		switch {
		case isSigned(src):
			f = float64(rv.Int())
		case isUnsigned(src):
			f = float64(rv.Uint())
		default:
			f = rv.Float()
		}
		if out.OverflowFloat(f) {
			return out, false
		}
		out.SetFloat(f)
		return out, true
	case isSigned(src):
		return setInteger(out, rv.Int() < 0, uint64(rv.Int()), rv.Int())
	case isUnsigned(src):
		u := rv.Uint()
		return setInteger(out, false, u, int64(u))
	case isFloat(src):
		f := rv.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) || f < math.MinInt64 || f >= math.MaxUint64 {
			return out, false
		}
		if f < 0 {
			return setInteger(out, true, 0, int64(f))
		}
		u := uint64(f)
		return setInteger(out, false, u, int64(u))
	}
	return out, false
}

// setInteger stores an integer given both as unsigned magnitude u (when not
// negative) and as i, rejecting overflow and negative-to-unsigned.
func setInteger(out reflect.Value, negative bool, u uint64, i int64) (reflect.Value, bool) {
	switch k := out.Kind(); {
	case isUnsigned(k):
		if negative || out.OverflowUint(u) {
			return out, false
		}
		out.SetUint(u)
	case isSigned(k):
		if (!negative && u > math.MaxInt64) || out.OverflowInt(i) {
			return out, false
		}
		out.SetInt(i)
	default:
		return out, false
	}
	return out, true
}

func isSigned(k reflect.Kind) bool { return k >= reflect.Int && k <= reflect.Int64 }

func isUnsigned(k reflect.Kind) bool { return k >= reflect.Uint && k <= reflect.Uintptr }

func isFloat(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

func isNumber(k reflect.Kind) bool { return isSigned(k) || isUnsigned(k) || isFloat(k) }

// wantError says what type a key needs and what it got, on one line.
func wantError(t reflect.Type, v any) error {
	return fmt.Errorf("want %s, got %s", describeType(t), describeValue(v))
}

func describeType(t reflect.Type) string {
	switch k := t.Kind(); {
	case t == durationType:
		return `a duration such as "30s"`
	case k == reflect.String:
		return "a string"
	case k == reflect.Bool:
		return "true or false"
	case isSigned(k):
		return "an integer"
	case isUnsigned(k):
		return "a non-negative integer"
	case isFloat(k):
		return "a number"
	}
	return t.String()
}

// describeValue renders a raw value briefly and without newlines.
func describeValue(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	case map[string]any:
		return "a section"
	case []any:
		return "a list"
	case bool:
		return strconv.FormatBool(v)
	default:
		s = fmt.Sprintf("%v", v)
		if rv := reflect.ValueOf(v); !isNumber(rv.Kind()) {
			s = fmt.Sprintf("%T %s", v, strconv.Quote(s))
		}
	}
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// oneLine folds a multi-line message (YAML, mapstructure) onto one line so
// start-up failures stay a single log line.
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	lines = slices.DeleteFunc(lines, func(l string) bool { return l == "" })
	return strings.Join(lines, "; ")
}

// lineError keeps a wrapped error's identity while printing it on one line.
type lineError struct{ err error }

func (e lineError) Error() string { return oneLine(e.err.Error()) }
func (e lineError) Unwrap() error { return e.err }
