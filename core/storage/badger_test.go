package storage

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// formatCounter counts how often a log line asked for its text.
type formatCounter struct{ n int }

func (c *formatCounter) String() string { c.n++; return "arg" }

// Badger calls Debugf on every write request; below the logger's level the
// line must not even be formatted, and at or above it it must be written.
func TestBadgerLoggerFormatsOnlyEnabledLevels(t *testing.T) {
	var out bytes.Buffer
	l := badgerLogger{slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	c := &formatCounter{}
	l.Debugf("write %v", c)
	l.Infof("flush %v", c)
	if c.n != 0 || out.Len() != 0 {
		t.Fatalf("debug and info lines below the info level: formatted %d times, wrote %q", c.n, out.String())
	}
	l.Warningf("slow %v", c)
	l.Errorf("broken %v", c)
	if c.n != 2 {
		t.Fatalf("warn and error lines formatted %d times, want 2", c.n)
	}
	if s := out.String(); !strings.Contains(s, "level=WARN msg=\"slow arg\"") || !strings.Contains(s, "level=ERROR msg=\"broken arg\"") {
		t.Fatalf("missing warn or error line in %q", s)
	}
}
