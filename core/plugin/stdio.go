package plugin

import (
	"context"
	"log/slog"
	"strings"
)

// lineLog turns a plugin's stdout or stderr into log lines (Go's runtime
// writes panics to stderr, and a plugin may print). It bounds line length
// and lines per call so a chatty plugin cannot flood the node's log, and
// keeps the last lines so a trap's error can quote the panic.
type lineLog struct {
	p      *Plugin
	stream string
	level  slog.Level
	buf    []byte
	lines  int // lines logged in the current call
	tail   []string
	// headline is the current call's first line that says why Go's
	// runtime gave up ("panic: ...", "fatal error: ..."); the stack dump
	// that follows it is long and says less.
	headline string
}

const (
	maxLineBytes    = 4096
	maxLinesPerCall = 100
	tailLines       = 6
)

func newLineLog(p *Plugin, stream string, level slog.Level) *lineLog {
	return &lineLog{p: p, stream: stream, level: level}
}

func (l *lineLog) startCall() { l.lines, l.headline, l.tail = 0, "", l.tail[:0] }

// Write implements io.Writer for wazero's stdout/stderr. It is called on
// the instance's goroutine, inside a call, so it needs no lock.
func (l *lineLog) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := strings.IndexByte(string(b), '\n')
		if i < 0 {
			room := maxLineBytes - len(l.buf)
			if len(b) > room {
				l.buf = append(l.buf, b[:max(room, 0)]...)
				l.flush()
				b = b[max(room, 0):]
				continue
			}
			l.buf = append(l.buf, b...)
			break
		}
		l.buf = append(l.buf, b[:min(i, max(maxLineBytes-len(l.buf), 0))]...)
		l.flush()
		b = b[i+1:]
	}
	return n, nil
}

func (l *lineLog) flush() {
	line := string(l.buf)
	l.buf = l.buf[:0]
	if len(l.tail) == tailLines {
		copy(l.tail, l.tail[1:])
		l.tail = l.tail[:tailLines-1]
	}
	l.tail = append(l.tail, line)
	if l.headline == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		l.headline = line
	}
	l.lines++
	switch {
	case l.lines <= maxLinesPerCall:
		l.p.logger.Log(context.Background(), l.level, line, "stream", l.stream)
	case l.lines == maxLinesPerCall+1:
		l.p.logger.Warn("plugin output truncated for this call", "stream", l.stream, "after_lines", maxLinesPerCall)
	}
}

// tailText says what the plugin last wrote: the runtime's headline if the
// current call has one, else the last lines, pending text included.
func (l *lineLog) tailText() string {
	if l.headline != "" {
		return l.headline
	}
	lines := append([]string(nil), l.tail...)
	if len(l.buf) > 0 {
		lines = append(lines, string(l.buf))
	}
	return strings.TrimSpace(strings.Join(lines, " | "))
}
