// Package jsonenc appends JSON to byte slices exactly as encoding/json's
// Marshal writes it, for the few hot types (a KV node, an audit entry)
// whose reflection-driven encoding showed in CPU profiles. Callers keep
// the field order and omitempty rules of their struct tags by hand; their
// tests hold the output byte-equal to json.Marshal.
package jsonenc

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// String appends s as a JSON string. Like encoding/json it escapes '<',
// '>' and '&' (so the output is safe inside HTML), U+2028 and U+2029
// (line terminators to JavaScript), control characters (with the short
// forms \b \f \n \r \t) and replaces invalid UTF-8 with U+FFFD.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	plain := 0 // start of the run of bytes not yet copied
	for i := 0; i < len(s); {
		// Eight plain ASCII bytes at a time: most strings (keys,
		// values, paths) need no escape at all.
		for i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[plain:i]...)
			dst = appendEscapedByte(dst, c)
			i++
			plain = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[plain:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[plain:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		plain = i
	}
	dst = append(dst, s[plain:]...)
	return append(dst, '"')
}

// plain8 reports whether all eight bytes of s (len(s) == 8) are ASCII
// that String copies unescaped: none is a control character, '"', '\\',
// '<', '>' or '&', and none has the high bit set.
func plain8(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones = 0x0101010101010101
	// While every byte is ASCII, a byte below n borrows into its high bit
	// when n is taken from it, a byte equal to c is zero under x^c and so
	// below 1, and a borrow into the next byte only follows such a byte.
	// A byte with the high bit set is caught by x itself.
	bad := (x - ones*0x20) | // control characters
		((x ^ ones*'"') - ones) | ((x ^ ones*'\\') - ones) |
		((x ^ ones*'<') - ones) | ((x ^ ones*'>') - ones) | ((x ^ ones*'&') - ones)
	return (bad|x)&(ones*0x80) == 0
}

func appendEscapedByte(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// Field appends `"name":` after a comma unless dst ends an opening brace.
// name must need no escaping (a Go struct tag's name).
func Field(dst []byte, name string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// StringField appends a string member `"name":"v"`, or nothing when
// omitEmpty is set and v is "" (the omitempty tag option).
func StringField(dst []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return dst
	}
	return String(Field(dst, name), v)
}

// Int appends v in decimal.
func Int(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Uint appends v in decimal.
func Uint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// Bool appends true or false.
func Bool(dst []byte, v bool) []byte { return strconv.AppendBool(dst, v) }
