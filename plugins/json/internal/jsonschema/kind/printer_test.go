package kind

// Trellis change: not upstream's. Printer must print what the English
// printer of golang.org/x/text/message printed; the test links that package,
// the plugin does not.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"testing"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var english = message.NewPrinter(language.English)

func same(t *testing.T, format string, args ...any) {
	t.Helper()
	want := english.Sprintf(format, args...)
	if got := (&Printer{}).Sprintf(format, args...); got != want {
		t.Errorf("Sprintf(%q, %#v) = %q, golang.org/x/text/message: %q", format, args, got, want)
	}
}

func TestPrinterNumbers(t *testing.T) {
	ints := []int64{0, 1, -1, 7, 999, 1000, -1000, 9999, 10000, 99999, 100000, 123456, 999999,
		1000000, -1234567, 123456789, math.MaxInt64, math.MinInt64}
	for _, n := range ints {
		same(t, "%d %v", n, n)
		same(t, "got %d, want %d", int(n), int(n/3))
		same(t, "%d|%v|%d", int32(n), int16(n), int8(n))
		same(t, "%d %v %d", uint64(n), uint(n), uint32(n))
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 1.5, 0.30000000000000004, 1e-4, 1.5e-4, 9.99e-5, 1e-5,
		1.23e-5, 2.5e-7, 5e-324, 999, 1000, 1234.5, 12345.678, 100000.5, 123456, 999999, 999999.5, 1e6,
		1234567, 1.5e6, 1e21, 1e22, 1e100, math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), -0.000123, 3, 42.25, -1e6, -123456.789}
	for _, f := range floats {
		same(t, "minimum: got %v, want %v", f, -f)
		same(t, "%g %G", f, f)
		same(t, "%v", float32(f))
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		f := math.Float64frombits(r.Uint64())
		same(t, "%v", f)
		// Values a schema keyword is likely to hold: decimals of a few
		// digits at every magnitude.
		d := float64(r.Int63n(2000000)-1000000) * math.Pow10(r.Intn(30)-15)
		same(t, "%v", d)
		n := r.Int63() >> r.Intn(63)
		same(t, "%d", n)
		same(t, "%v", float32(d))
	}
}

func TestPrinterMessages(t *testing.T) {
	same(t, "invalid jsonType %T", 1.5)
	same(t, "invalid jsonType %T", nil)
	same(t, "both %s and %s resolve to %q causing reference cycle", "a/b", "c", "x\"y")
	same(t, "%s is not valid %s: %v", "'x'", "ipv4", errors.New("bad 1000"))
	same(t, "invalid character %q", 'é')
	same(t, "invalid character %q", '\x00')
	same(t, "element %d must be %d characters long", 1002, 12)
	same(t, "100%% of %d", 12345)
	same(t, "value %v of %s", true, []string{"a"})

	// Widths, flags, precisions, explicit argument indexes and malformed
	// formats, which no message uses, are printed as fmt prints them,
	// without grouping (the formats are in a table, for vet).
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"%5d|%-8v|%+d|%x|%08.3f", []any{12345, 1234, 1234, 4096, 1234.5}},
		{"%[1]d %[1]v", []any{12345}},
		{"%d %d", []any{1234}},
		{"%d", []any{1234, 5678}},
		{"%!", []any{1}},
		{"%d%", []any{1}},
		{"%s", []any{[]int{1000, 2000}}},
		{"%z", []any{1000}},
	} {
		if got, want := (&Printer{}).Sprintf(c.format, c.args...), fmt.Sprintf(c.format, c.args...); got != want {
			t.Errorf("Sprintf(%q, %#v) = %q, fmt: %q", c.format, c.args, got, want)
		}
	}
	same(t, "value must be one of %s", "'a', 1000")

	// Every kind whose message prints numbers.
	rat := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatal(s)
		}
		return r
	}
	kinds := []interface{ LocalizedString(*Printer) string }{
		&OneOf{Subschemas: []int{1000, 2001}},
		&MinProperties{Got: 1234, Want: 2000},
		&MaxProperties{Got: 1234, Want: 1000},
		&MinItems{Got: 12345, Want: 123456},
		&MaxItems{Got: 1234567, Want: 1000},
		&AdditionalItems{Count: 1001},
		&UniqueItems{Duplicates: [2]int{999, 1000}},
		&MinContains{Got: []int{1000, 1001}, Want: 5000},
		&MinContains{Want: 5000},
		&MaxContains{Got: []int{1000, 1001, 1002}, Want: 2},
		&MinLength{Got: 1000, Want: 1001},
		&MaxLength{Got: 100000, Want: 99999},
		&Minimum{Got: rat("1234.5"), Want: rat("1e7")},
		&Maximum{Got: rat("-1e-7"), Want: rat("1/3")},
		&ExclusiveMinimum{Got: rat("123456"), Want: rat("123456")},
		&ExclusiveMaximum{Got: rat("1e400"), Want: rat("-1e400")},
		&MultipleOf{Got: rat("1000000"), Want: rat("0.00001")},
	}
	for _, k := range kinds {
		got := k.LocalizedString(&Printer{})
		want := upstreamString(t, k)
		if got != want {
			t.Errorf("%T: %q, golang.org/x/text/message: %q", k, got, want)
		}
	}
}

// upstreamString is the message upstream's kind printed: the same format
// and arguments, printed by golang.org/x/text/message.
func upstreamString(t *testing.T, k any) string {
	switch k := k.(type) {
	case *OneOf:
		return english.Sprintf("'oneOf' failed, subschemas %d, %d matched", k.Subschemas[0], k.Subschemas[1])
	case *MinProperties:
		return english.Sprintf("minProperties: got %d, want %d", k.Got, k.Want)
	case *MaxProperties:
		return english.Sprintf("maxProperties: got %d, want %d", k.Got, k.Want)
	case *MinItems:
		return english.Sprintf("minItems: got %d, want %d", k.Got, k.Want)
	case *MaxItems:
		return english.Sprintf("maxItems: got %d, want %d", k.Got, k.Want)
	case *AdditionalItems:
		return english.Sprintf("last %d additionalItem(s) not allowed", k.Count)
	case *UniqueItems:
		return english.Sprintf("items at %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	case *MinContains:
		if len(k.Got) == 0 {
			return english.Sprintf("min %d items required to match contains schema, but none matched", k.Want)
		}
		return english.Sprintf("min %d items required to match contains schema, but matched %d items at %v", k.Want, len(k.Got), "1000 1001")
	case *MaxContains:
		return english.Sprintf("max %d items required to match contains schema, but matched %d items at %v", k.Want, len(k.Got), "1000 1001 1002")
	case *MinLength:
		return english.Sprintf("minLength: got %d, want %d", k.Got, k.Want)
	case *MaxLength:
		return english.Sprintf("maxLength: got %d, want %d", k.Got, k.Want)
	case *Minimum:
		return english.Sprintf("minimum: got %v, want %v", f(k.Got), f(k.Want))
	case *Maximum:
		return english.Sprintf("maximum: got %v, want %v", f(k.Got), f(k.Want))
	case *ExclusiveMinimum:
		return english.Sprintf("exclusiveMinimum: got %v, want %v", f(k.Got), f(k.Want))
	case *ExclusiveMaximum:
		return english.Sprintf("exclusiveMaximum: got %v, want %v", f(k.Got), f(k.Want))
	case *MultipleOf:
		return english.Sprintf("multipleOf: got %v, want %v", f(k.Got), f(k.Want))
	}
	t.Fatalf("no upstream message for %T", k)
	return ""
}

func f(r *big.Rat) float64 {
	v, _ := r.Float64()
	return v
}
