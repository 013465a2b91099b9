package host

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/hostcall"
)

// LogEnabled reports whether the node logs at level. It is one host call
// with no allocation: check it before building an expensive message.
func LogEnabled(level slog.Level) bool { return hostcall.LogEnabled(int32(level)) }

// Log writes one line to the node's log with the plugin's name attached.
// args are key-value pairs as for slog (values are formatted with %v).
func Log(level slog.Level, msg string, args ...any) {
	if !LogEnabled(level) {
		return
	}
	hostcall.Log(int32(level), abi.AppendLogRecord(nil, msg, pairs(args)))
}

// Debug, Info, Warn and Error log at their level.
func Debug(msg string, args ...any) { Log(slog.LevelDebug, msg, args...) }

// Info logs at info level.
func Info(msg string, args ...any) { Log(slog.LevelInfo, msg, args...) }

// Warn logs at warn level.
func Warn(msg string, args ...any) { Log(slog.LevelWarn, msg, args...) }

// Error logs at error level.
func Error(msg string, args ...any) { Log(slog.LevelError, msg, args...) }

// Logger returns a *slog.Logger whose records go to the node's log, for
// libraries that take one.
func Logger() *slog.Logger { return slog.New(handler{}) }

func pairs(args []any) []abi.Header {
	if len(args) == 0 {
		return nil
	}
	out := make([]abi.Header, 0, (len(args)+1)/2)
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			out = append(out, abi.Header{Key: "!BADKEY", Value: []byte(format(args[i]))})
			break
		}
		out = append(out, abi.Header{Key: format(args[i]), Value: []byte(format(args[i+1]))})
	}
	return out
}

func format(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// handler is a slog.Handler over the log host function. Groups flatten into
// dotted keys.
type handler struct {
	attrs []abi.Header
	group string
}

func (handler) Enabled(_ context.Context, l slog.Level) bool { return LogEnabled(l) }

func (h handler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]abi.Header(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = h.appendAttr(attrs, h.group, a)
		return true
	})
	hostcall.Log(int32(r.Level), abi.AppendLogRecord(nil, r.Message, attrs))
	return nil
}

func (h handler) appendAttr(out []abi.Header, prefix string, a slog.Attr) []abi.Header {
	a.Value = a.Value.Resolve()
	key := a.Key
	if prefix != "" {
		key = prefix + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			out = h.appendAttr(out, key, g)
		}
		return out
	}
	return append(out, abi.Header{Key: key, Value: []byte(a.Value.String())})
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := handler{attrs: append([]abi.Header(nil), h.attrs...), group: h.group}
	for _, a := range as {
		n.attrs = h.appendAttr(n.attrs, h.group, a)
	}
	return n
}

func (h handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := h
	if h.group != "" {
		n.group = h.group + "." + name
	} else {
		n.group = name
	}
	return n
}
