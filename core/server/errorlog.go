package server

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newErrorLog adapts net/http's *log.Logger to slog. TLS handshake errors
// go to debug: TCP health probes against an HTTPS port produce one per
// probe and would drown real warnings (accept errors, superfluous
// WriteHeader calls), which stay at warn.
func newErrorLog(l *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{l}, "", 0)
}

type errorLogWriter struct{ l *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	level := slog.LevelWarn
	if bytes.Contains(p, []byte("TLS handshake error")) {
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}
