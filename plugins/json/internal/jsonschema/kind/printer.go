package kind

// Trellis change: this file is not upstream's. It replaces the
// *message.Printer of golang.org/x/text/message (language.English) that
// formatted the messages: that package, with the language tables and the
// number formatting it links, was about 0.5 MB of the json plugin's 6 MB of
// WebAssembly, and wazero decodes and validates every function of a module
// on each load, even when the compiled code comes from its cache.

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printer formats messages as message.NewPrinter(language.English) did: like
// fmt.Sprintf, except that an argument of a predeclared integer type printed
// with a plain %d or %v has its thousands grouped ("1,000"), and one of type
// float64 or float32 printed with a plain %v, %g or %G is printed in English
// decimal or scientific notation ("1,234.5", "1.5×10⁰⁶", "∞"; negative zero
// as "0"). There are no translations, so the format itself is always the
// message. The methods of golang.org/x/text/message that nothing here uses
// are left out, and so is its number formatting for the verbs and flags the
// messages do not use (%f, %e, widths, precisions, explicit argument
// indexes) and for numbers inside composite values: those are printed as fmt
// prints them.
//
// The zero value is ready to use; a nil *Printer is too.
type Printer struct{}

// Sprintf formats according to format; see Printer.
func (*Printer) Sprintf(format string, args ...any) string {
	var b []byte
	argNum := 0
	for i := 0; i < len(format); {
		j := strings.IndexByte(format[i:], '%')
		if j < 0 {
			b = append(b, format[i:]...)
			break
		}
		b = append(b, format[i:i+j]...)
		i += j
		k := i + 1
		plain := true
		for k < len(format) && strings.IndexByte("+-# 0123456789.", format[k]) >= 0 {
			plain = false
			k++
		}
		if k >= len(format) || format[k] == '*' || format[k] == '[' {
			// Not a directive this printer takes apart; fmt's output for
			// the whole format, as for any malformed one.
			return fmt.Sprintf(format, args...)
		}
		verb, size := utf8.DecodeRuneInString(format[k:])
		k += size
		directive := format[i:k]
		i = k
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		if argNum >= len(args) {
			return fmt.Sprintf(format, args...) // %!v(MISSING)
		}
		arg := args[argNum]
		argNum++
		if plain {
			if out, ok := appendEnglish(b, arg, verb); ok {
				b = out
				continue
			}
		}
		b = fmt.Appendf(b, directive, arg)
	}
	if argNum < len(args) {
		return fmt.Sprintf(format, args...) // %!(EXTRA ...)
	}
	return string(b)
}

// appendEnglish appends arg as the English printer of golang.org/x/text
// printed a number for verb, and reports whether arg and verb are ones
// it prints differently from fmt.
func appendEnglish(b []byte, arg any, verb rune) ([]byte, bool) {
	var s string
	switch v := arg.(type) {
	case int, int8, int16, int32, int64: // predeclared types only, as x/text
		s = strconv.FormatInt(reflect.ValueOf(v).Int(), 10)
	case uint, uint8, uint16, uint32, uint64, uintptr:
		s = strconv.FormatUint(reflect.ValueOf(v).Uint(), 10)
	case float32:
		if verb != 'v' && verb != 'g' && verb != 'G' {
			return b, false
		}
		return appendFloat(b, float64(v), 32), true
	case float64:
		if verb != 'v' && verb != 'g' && verb != 'G' {
			return b, false
		}
		return appendFloat(b, v, 64), true
	default:
		return b, false
	}
	if verb != 'd' && verb != 'v' {
		return b, false
	}
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	return appendGrouped(b, s), true
}

// appendGrouped appends the decimal digits s with a comma between each
// group of three from the right.
func appendGrouped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return b
}

var superscript = [10]string{"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"}

// appendFloat appends v with the shortest digits that read back as v
// (bitSize 32 or 64), in decimal notation with grouped thousands when its
// decimal exponent is in [-4, 6), else as d.ddd×10ⁿⁿ.
func appendFloat(b []byte, v float64, bitSize int) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "∞"...)
	case math.IsInf(v, -1):
		return append(b, "-∞"...)
	}
	if v == 0 {
		return append(b, '0') // and -0 too
	}
	s := strconv.FormatFloat(v, 'e', -1, bitSize) // [-]d[.ddd]e±dd
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	e := strings.IndexByte(s, 'e')
	digits := strings.Replace(s[:e], ".", "", 1)
	exp, _ := strconv.Atoi(s[e+1:])
	if exp < -4 || exp >= 6 {
		b = append(b, digits[0])
		if len(digits) > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, "×10"...)
		if exp < 0 {
			b = append(b, "⁻"...)
			exp = -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		for i := 0; i < len(es); i++ {
			b = append(b, superscript[es[i]-'0']...)
		}
		return b
	}
	if exp < 0 {
		b = append(b, "0."...)
		b = append(b, strings.Repeat("0", -exp-1)...)
		return append(b, digits...)
	}
	intDigits := digits
	frac := ""
	if len(digits) > exp+1 {
		intDigits, frac = digits[:exp+1], digits[exp+1:]
	} else {
		intDigits += strings.Repeat("0", exp+1-len(digits))
	}
	b = appendGrouped(b, intDigits)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return b
}
