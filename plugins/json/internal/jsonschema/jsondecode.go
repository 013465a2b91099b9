package jsonschema

// Trellis change: this file is not upstream's. UnmarshalJSON (loader.go)
// decoded with a json.Decoder and the application/json media type
// (content.go) validated with json.Unmarshal; both now use the decoder
// below. encoding/json's decoding side (its reflection-driven decodeState)
// was about 0.22 MB of the json plugin's WebAssembly, which wazero decodes
// and validates on every load even when the compiled code comes from its
// cache; the plugin's SDK links only the encoding side. The decoder accepts
// exactly what encoding/json accepts, builds the same values and returns
// errors with the same text (jsondecode_test.go compares the two, and
// FuzzJSONDecode keeps comparing); the errors are not of encoding/json's
// types except for *json.UnmarshalTypeError.

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxNestingDepth is encoding/json's limit on nested arrays and objects.
const maxNestingDepth = 10000

// jsonDecoder reads one JSON text from data.
type jsonDecoder struct {
	data []byte
	pos  int
	// stream: errors as a json.Decoder returns them (io.EOF for no value,
	// io.ErrUnexpectedEOF for a truncated one) and values with
	// json.Number, else as json.Unmarshal into an any returns them
	// (truncation as a syntax error, numbers to float64), without values.
	stream bool
	depth  int
	numErr error // the first number float64 cannot hold, when !stream
}

// syntaxError is a *json.SyntaxError's text, without its offset.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// decodeStream decodes the first JSON value of data as a json.Decoder with
// UseNumber does, and reports in rest whether anything but white space
// follows it.
func decodeStream(data []byte) (v any, rest bool, err error) {
	d := &jsonDecoder{data: data, stream: true}
	d.skipSpace()
	if d.pos == len(d.data) {
		return nil, false, io.EOF
	}
	v, err = d.value()
	if err != nil {
		return nil, false, err
	}
	d.skipSpace()
	return v, d.pos < len(d.data), nil
}

// checkJSON returns the error json.Unmarshal(data, &v) returns for an
// any v, or nil.
func checkJSON(data []byte) error {
	d := &jsonDecoder{data: data}
	d.skipSpace()
	if _, err := d.value(); err != nil {
		return err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.syntaxErr(d.data[d.pos], "after top-level value")
	}
	return d.numErr
}

func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) && isSpace(d.data[d.pos]) {
		d.pos++
	}
}

// syntaxErr is encoding/json's message for byte c in the given context.
func (d *jsonDecoder) syntaxErr(c byte, context string) error {
	return &syntaxError{"invalid character " + quoteChar(c) + " " + context}
}

// eofErr is the error for the end of data where more is needed: a
// json.Decoder says io.ErrUnexpectedEOF; json.Unmarshal feeds its scanner
// a space, which is an error in some places (context, when not ""), and
// says "unexpected end of JSON input" elsewhere.
func (d *jsonDecoder) eofErr(context string) error {
	if d.stream {
		return io.ErrUnexpectedEOF
	}
	if context != "" {
		return d.syntaxErr(' ', context)
	}
	return &syntaxError{"unexpected end of JSON input"}
}

// quoteChar is encoding/json's quoting of a byte in its messages.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// value decodes the value at d.pos; white space before it is skipped.
func (d *jsonDecoder) value() (any, error) {
	d.skipSpace()
	if d.pos == len(d.data) {
		return nil, d.eofErr("")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.string()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.number()
		}
		return nil, d.syntaxErr(c, "looking for beginning of value")
	}
}

func (d *jsonDecoder) push() error {
	d.depth++
	if d.depth > maxNestingDepth {
		return d.syntaxErr(d.data[d.pos], "exceeded max depth")
	}
	return nil
}

func (d *jsonDecoder) object() (any, error) {
	if err := d.push(); err != nil {
		return nil, err
	}
	d.pos++ // {
	var m map[string]any
	if d.stream {
		m = map[string]any{}
	}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		d.skipSpace()
		if d.pos == len(d.data) {
			return nil, d.eofErr("")
		}
		if c := d.data[d.pos]; c != '"' {
			return nil, d.syntaxErr(c, "looking for beginning of object key string")
		}
		key, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos == len(d.data) {
			return nil, d.eofErr("")
		}
		if c := d.data[d.pos]; c != ':' {
			return nil, d.syntaxErr(c, "after object key")
		}
		d.pos++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if d.stream {
			m[key.(string)] = v
		}
		d.skipSpace()
		if d.pos == len(d.data) {
			return nil, d.eofErr("")
		}
		switch c := d.data[d.pos]; c {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return m, nil
		default:
			return nil, d.syntaxErr(c, "after object key:value pair")
		}
	}
}

func (d *jsonDecoder) array() (any, error) {
	if err := d.push(); err != nil {
		return nil, err
	}
	d.pos++ // [
	var a []any
	if d.stream {
		a = make([]any, 0)
	}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if d.stream {
			a = append(a, v)
		}
		d.skipSpace()
		if d.pos == len(d.data) {
			return nil, d.eofErr("")
		}
		switch c := d.data[d.pos]; c {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return a, nil
		default:
			return nil, d.syntaxErr(c, "after array element")
		}
	}
}

// literal reads true, false or null, whose first byte is at d.pos.
func (d *jsonDecoder) literal(lit string) error {
	for i := 1; i < len(lit); i++ {
		context := "in literal " + lit + " (expecting '" + lit[i:i+1] + "')"
		if d.pos+i == len(d.data) {
			return d.eofErr(context)
		}
		if c := d.data[d.pos+i]; c != lit[i] {
			return d.syntaxErr(c, context)
		}
	}
	d.pos += len(lit)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads a number, whose first byte ('-' or a digit) is at d.pos:
// a json.Number for a stream, else a check that float64 holds it.
func (d *jsonDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
		if d.pos == len(d.data) {
			return nil, d.eofErr("in numeric literal")
		}
		if !isDigit(d.data[d.pos]) {
			return nil, d.syntaxErr(d.data[d.pos], "in numeric literal")
		}
	}
	if d.data[d.pos] == '0' {
		d.pos++
	} else {
		for d.pos < len(d.data) && isDigit(d.data[d.pos]) {
			d.pos++
		}
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.pos == len(d.data) {
			return nil, d.eofErr("after decimal point in numeric literal")
		}
		if !isDigit(d.data[d.pos]) {
			return nil, d.syntaxErr(d.data[d.pos], "after decimal point in numeric literal")
		}
		for d.pos < len(d.data) && isDigit(d.data[d.pos]) {
			d.pos++
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.pos == len(d.data) {
			return nil, d.eofErr("in exponent of numeric literal")
		}
		if !isDigit(d.data[d.pos]) {
			return nil, d.syntaxErr(d.data[d.pos], "in exponent of numeric literal")
		}
		for d.pos < len(d.data) && isDigit(d.data[d.pos]) {
			d.pos++
		}
	}
	s := string(d.data[start:d.pos])
	if d.stream {
		return json.Number(s), nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil && d.numErr == nil {
		d.numErr = &json.UnmarshalTypeError{Value: "number " + s, Type: reflect.TypeFor[float64](), Offset: int64(d.pos)}
	}
	return nil, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// string reads a string, whose opening quote is at d.pos, and for a stream
// unquotes it as encoding/json does: each byte of invalid UTF-8 and each
// \u escape of a surrogate that is not half of a pair becomes U+FFFD.
func (d *jsonDecoder) string() (any, error) {
	d.pos++ // "
	start := d.pos
	plain := true // no escapes, valid UTF-8: the bytes are the string
	for {
		if d.pos == len(d.data) {
			return nil, d.eofErr("")
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			raw := d.data[start:d.pos]
			d.pos++
			if !d.stream {
				return nil, nil
			}
			if plain && utf8.Valid(raw) {
				return string(raw), nil
			}
			return unquote(raw), nil
		case c == '\\':
			plain = false
			d.pos++
			if d.pos == len(d.data) {
				return nil, d.eofErr("in string escape code")
			}
			switch e := d.data[d.pos]; e {
			case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
				d.pos++
			case 'u':
				d.pos++
				for i := 0; i < 4; i++ {
					if d.pos == len(d.data) {
						return nil, d.eofErr("in \\u hexadecimal character escape")
					}
					if h := d.data[d.pos]; !isHex(h) {
						return nil, d.syntaxErr(h, "in \\u hexadecimal character escape")
					}
					d.pos++
				}
			default:
				return nil, d.syntaxErr(e, "in string escape code")
			}
		case c < 0x20:
			return nil, d.syntaxErr(c, "in string literal")
		default:
			d.pos++
		}
	}
}

// unquote decodes the contents of a string the scanner accepted.
func unquote(s []byte) string {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r-1:])
				r += 5
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						r += 6
						continue
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // " \ /
				b = append(b, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return string(b)
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	r, err := strconv.ParseUint(string(s[2:6]), 16, 32)
	if err != nil {
		return -1
	}
	return rune(r)
}

var errAfterTopLevel = errors.New("invalid character after top-level value")
